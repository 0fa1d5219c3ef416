#!/bin/bash
# Runs once inside a throwaway container of the PostgreSQL base image, then committed.
set -euo pipefail
cp -a /twin-build/rootfs/. /
# Debian's package creates a "main" cluster; the entrypoint makes its own in $PGDATA.
pg_dropcluster 15 main 2>/dev/null || true
install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data
install -d -o postgres -g postgres -m 2775 /run/postgresql
rm -rf /twin-build
