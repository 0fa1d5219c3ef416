#!/bin/bash
# Runs once inside a throwaway container of the twin's base image (no network), then the
# container is committed as the twin image. Configures the host like the operations guide.
set -euo pipefail
src=/twin-build/rootfs
say() { printf '[configure] %s\n' "$*"; }

say "accounts"
# Service account first so it gets uid/gid 1000, then the operators with the guide's uids.
add_user() { # name uid
  groupadd --gid "$2" "$1"
  useradd --uid "$2" --gid "$2" --create-home --shell /bin/bash "$1"
}
add_user agent 1000
add_user juanesteban 1001
add_user miguel 1002
add_user nat 1003
# DigitalOcean's monitoring account and the Aurora app's system user.
useradd --system --uid 999 --user-group --no-create-home --home-dir /nonexistent \
  --shell /usr/sbin/nologin do-agent
useradd --system --user-group --create-home --home-dir /opt/aurora \
  --shell /usr/sbin/nologin aurora
# cloudflared runs as its own user (ps shows it as "cloudfl+", as the guide warns).
useradd --system --user-group --no-create-home --home-dir /nonexistent \
  --shell /usr/sbin/nologin cloudflared

say "files"
cp -a "$src/." /
chown -R agent:agent /home/agent
chown -R aurora:aurora /opt/aurora

say "ssh keys (throwaway, generated at build time)"
# Private halves stay in /etc/twin/keys (root only) so tests can log in over ssh.
install -d -m 0700 /etc/twin/keys
key() { # user type comment
  local user=$1 type=$2 comment=$3 home
  home=$(getent passwd "$user" | cut -d: -f6)
  if [ "$type" = rsa ]; then
    ssh-keygen -q -t rsa -b 3072 -N '' -C "$comment" -f "/etc/twin/keys/$user"
  else
    ssh-keygen -q -t ed25519 -N '' -C "$comment" -f "/etc/twin/keys/$user"
  fi
  install -d -m 0700 -o "$user" -g "$(id -gn "$user")" "$home/.ssh"
  install -m 0600 -o "$user" -g "$(id -gn "$user")" "/etc/twin/keys/$user.pub" \
    "$home/.ssh/authorized_keys"
}
key miguel rsa miguel@arpagrowth
key juanesteban ed25519 juanespg03@gmail.com
key nat ed25519 juanesteban
key agent ed25519 openclaw-do
key root ed25519 openclaw-do

say "sudoers"
for op in miguel juanesteban nat; do
  printf '%s ALL=(ALL) NOPASSWD: ALL\n' "$op" > "/etc/sudoers.d/90-$op"
done
chmod 0440 /etc/sudoers.d/*
chown root:root /etc/sudoers.d/*
visudo -c >/dev/null

say "modes"
chmod 0600 /etc/openclaw.env
chmod 0644 /etc/ssh/sshd_config.d/*.conf /etc/issue.net
install -d -m 0755 -o agent -g agent \
  /home/agent/.openclaw/workspace/runtime/jobs \
  /home/agent/.openclaw/agents/main/sessions
install -d -m 0750 -o agent -g agent /opt/aurora-infra
install -d -m 0750 /opt/aurora-infra/backups
install -d -m 0755 /etc/runbook /usr/local/share/runbook/runbooks /usr/local/share/runbook/stdlib
# Cloudflare tunnel credentials: real format, throwaway secret.
python3 - <<'EOF'
import base64, json, os
tid = "44d9537e-3633-4103-a970-1ab7737115d2"
path = f"/etc/cloudflared/{tid}.json"
with open(path, "w") as f:
    json.dump({"AccountTag": os.urandom(16).hex(),
               "TunnelSecret": base64.b64encode(os.urandom(32)).decode(),
               "TunnelID": tid}, f)
os.chmod(path, 0o640)
EOF
chgrp -R cloudflared /etc/cloudflared
chmod 0750 /etc/cloudflared

# SOPS master key location: a throwaway key in the right place and format (not usable).
install -d -m 0700 /root/.config/sops/age
python3 - <<'EOF'
import datetime, os, secrets
alphabet = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"
key = "AGE-SECRET-KEY-1" + "".join(secrets.choice(alphabet) for _ in range(58))
with open("/root/.config/sops/age/keys.txt", "w") as f:
    f.write(f"# created: {datetime.datetime.now(datetime.timezone.utc).isoformat()}\n")
    f.write("# twin: throwaway placeholder, decrypts nothing\n")
    f.write(key + "\n")
os.chmod("/root/.config/sops/age/keys.txt", 0o600)
EOF

say "systemd"
# Only the docker client is used inside the twin: the engine is the host's (socket mount).
systemctl --quiet mask docker.service docker.socket containerd.service
# Nothing in the twin may reach out to the network on a timer, and nothing that needs
# a real kernel or console should try to start.
systemctl --quiet mask apt-daily.timer apt-daily-upgrade.timer \
  e2scrub_all.timer e2scrub_reap.service fstrim.timer \
  getty@tty1.service console-getty.service \
  systemd-timesyncd.service 2>/dev/null || true
systemctl --quiet enable ssh.service caddy.service fail2ban.service cloudflared.service aurora.service \
  openclaw-gateway.service openclaw-bg-worker.service openclaw-bg-dispatcher.service \
  openclaw-owner-policy.service twin-forward@5432.service twin-forward@5050.service
# Firewall as on the server: default deny inbound, allow 22022/tcp, 80/tcp, 443/tcp+udp.
# Written to ufw's files here; ufw.service loads them into the twin's network namespace at boot.
# (ufw warns that it cannot reach iptables here: there is no NET_ADMIN at build time.)
{
  ufw default deny incoming
  ufw default allow outgoing
  for rule in 22022/tcp 80/tcp 443/tcp 443/udp; do ufw allow "$rule"; done
} >/dev/null 2>&1
grep -q '^DEFAULT_INPUT_POLICY="DROP"' /etc/default/ufw
grep -q -- '--dport 22022 -j ACCEPT' /etc/ufw/user.rules
sed -i 's/^ENABLED=.*/ENABLED=yes/' /etc/ufw/ufw.conf
systemctl --quiet enable ufw.service
# Persistent journal, like the server.
install -d -m 2755 -g systemd-journal /var/log/journal

# Containers cannot write /proc/self/loginuid without CAP_AUDIT_CONTROL; do not fail logins on it.
sed -i 's/^session\s\+required\s\+pam_loginuid.so/session optional pam_loginuid.so/' \
  /etc/pam.d/sshd /etc/pam.d/login 2>/dev/null || true

rm -rf /twin-build
say "done"
