#!/usr/bin/env bash
# The server guide's triage flow (§8), as an operator would paste it: the baseline that
# `runbook run triage` is measured against. It writes no audit trail.
systemctl --no-pager --failed
df -h /
free -h
docker ps
journalctl --since '10 minutes ago' -p err --no-pager
journalctl -u openclaw-gateway -n 200 --no-pager
