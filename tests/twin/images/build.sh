#!/usr/bin/env bash
# Build one twin image without any registry: build.sh NAME (twin | pg). Prints the image tag.
#
# Two stages, each tagged with a hash of its inputs so it is rebuilt only when they change:
#   1. <repo>-base:<hash>  root filesystem from mmdebstrap (Debian bookworm + images/NAME/packages),
#                          loaded with `docker import`. Inputs: this file + packages.
#   2. <repo>:<hash>       the base plus images/NAME/rootfs copied over / and images/NAME/configure.sh
#                          run inside a throwaway container, saved with `docker commit`.
#                          Inputs: base tag, this file, every file under images/NAME (content
#                          and executable bit).
# `docker commit` is used instead of `docker build` so no builder (BuildKit, buildx) is involved.
set -euo pipefail

# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

name=${1:?usage: build.sh twin|pg}
images_dir="$TWIN_DIR/images"
dir="$images_dir/$name"
[ -f "$dir/packages" ] || die "unknown image $name"

case $name in
  twin) repo=runbook-twin ;;
  pg) repo=runbook-pg ;;
  *) die "unknown image $name" ;;
esac

SUITE=bookworm
MIRROR=${TWIN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${TWIN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

# hash_files DIR: stable hash over relative paths, executable bits and contents.
hash_files() {
  (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | while IFS= read -r -d '' f; do
    if [ -x "$f" ]; then x=x; else x=-; fi
    printf '%s %s %s\n' "$f" "$x" "$(sha256sum < "$f" | cut -c1-64)"
  done) | sha256sum | cut -c1-12
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

packages=$(grep -v -e '^#' -e '^[[:space:]]*$' "$dir/packages" | LC_ALL=C sort -u | paste -sd, -)
# Everything that shapes the root filesystem; bump the recipe number when the mmdebstrap
# invocation below changes.
base_recipe="recipe=1 suite=$SUITE variant=apt recommends=no components=main packages=$packages"
base_hash=$(printf '%s\n' "$base_recipe" | sha256sum | cut -c1-12)
base_tag="$repo-base:$base_hash"

if ! image_exists "$base_tag"; then
  log "building $base_tag with mmdebstrap ($SUITE: $packages)"
  mkdir -p "$TWIN_BUILD_DIR"
  tarball=$(mktemp "$TWIN_BUILD_DIR/rootfs-$name.XXXXXX")
  trap 'rm -f "$tarball"' EXIT
  mmdebstrap --quiet --variant=apt --format=tar \
    --aptopt='APT::Install-Recommends "false"' \
    --aptopt='Acquire::Retries "3"' \
    --include="$packages" \
    --customize-hook='rm -f "$1"/etc/hostname "$1"/etc/resolv.conf' \
    "$SUITE" "$tarball" \
    "deb $MIRROR $SUITE main" \
    "deb $MIRROR $SUITE-updates main" \
    "deb $SECURITY_MIRROR $SUITE-security main" >&2
  docker import --change 'CMD ["/bin/bash"]' \
    --message "mmdebstrap $SUITE + images/$name/packages" "$tarball" "$base_tag" >/dev/null
  rm -f "$tarball"
  trap - EXIT
fi

final_hash=$( { echo "$base_tag"; sha256sum < "${BASH_SOURCE[0]}"; hash_files "$dir"; } \
  | sha256sum | cut -c1-12)
final_tag="$repo:$final_hash"

if ! image_exists "$final_tag"; then
  log "building $final_tag from $base_tag + images/$name"
  cid=$(docker create --network none "$base_tag" /bin/bash /twin-build/configure.sh)
  trap 'docker rm -f "$cid" >/dev/null 2>&1 || true' EXIT
  docker cp "$dir/." "$cid:/twin-build"
  if ! docker start -a "$cid" >&2; then
    die "images/$name/configure.sh failed"
  fi
  case $name in
    twin)
      changes=(--change 'ENV container=docker'
               --change 'CMD ["/lib/systemd/systemd"]') ;;
    pg)
      changes=(--change 'ENV PGDATA=/var/lib/postgresql/data'
               --change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
               --change 'CMD ["/usr/local/bin/twin-pg-entrypoint"]') ;;
  esac
  docker commit "${changes[@]}" \
    --change "LABEL runbook.twin.image=$name runbook.twin.base=$base_tag" \
    "$cid" "$final_tag" >/dev/null
  docker rm -f "$cid" >/dev/null
  trap - EXIT
fi

echo "$final_tag"
