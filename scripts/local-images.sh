#!/usr/bin/env bash
# The base images for a machine that cannot reach an image registry (DESIGN.md §9
# "Containers"), all made from Debian packages:
#   localhost/debian-base:bookworm      debootstrap --variant=minbase, trimmed
#   localhost/sportslog-python:3.11     + Debian's python3.11 (the Containerfile's PYTHON_IMAGE)
#                                       and the host's own CAs (/usr/local/share/ca-certificates)
#   localhost/sportslog-postgres:15     Debian's postgresql-15, the public image's env contract
#   localhost/sportslog-rabbitmq:3      Debian's rabbitmq-server, management plugin off
#   localhost/sportslog-prometheus:latest  Debian's prometheus
#   localhost/sportslog-mailsink:latest    aiosmtpd's SMTP server, mail kept in a Maildir
# Idempotent: an image that exists is kept (FORCE=1 rebuilds). Needs root for debootstrap.
set -euo pipefail
cd "$(dirname "$0")/.."

ENGINE=${ENGINE:-$(command -v podman || command -v docker || true)}
[ -n "$ENGINE" ] || { echo "local-images: needs podman or docker"; exit 1; }
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE=localhost/debian-base:bookworm
PYTHON=localhost/sportslog-python:3.11

have() { [ -z "${FORCE:-}" ] && "$ENGINE" image inspect "$1" >/dev/null 2>&1; }

if have "$BASE"; then
  echo "local-images: $BASE exists"
else
  command -v debootstrap >/dev/null || { echo "local-images: needs debootstrap (apt-get install debootstrap)"; exit 1; }
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  echo "local-images: debootstrap bookworm into $root"
  debootstrap --variant=minbase bookworm "$root" "$MIRROR" >/dev/null
  # As Debian's own slim images: no docs, man pages or locales, no package cache, and apt
  # keeps it that way for what images built on this base install.
  rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/*
  cat > "$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CFG
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    > "$root/etc/apt/apt.conf.d/99no-recommends"
  tar -C "$root" -c . | "$ENGINE" import --change 'CMD ["/bin/bash"]' - "$BASE" >/dev/null
  echo "local-images: built $BASE"
fi

if have "$PYTHON"; then
  echo "local-images: $PYTHON exists"
else
  context=$(mktemp -d)
  mkdir "$context/ca"
  cp /usr/local/share/ca-certificates/*.crt "$context/ca/" 2>/dev/null || true
  "$ENGINE" build -q --build-arg BASE_IMAGE="$BASE" -t "$PYTHON" \
    -f deploy/images/python.Containerfile "$context" >/dev/null
  rm -rf "$context"
  echo "local-images: built $PYTHON"
fi

for pair in postgres:15 rabbitmq:3 prometheus:latest mailsink:latest; do
  name=localhost/sportslog-$pair
  if have "$name"; then
    echo "local-images: $name exists"
  else
    "$ENGINE" build -q --build-arg BASE_IMAGE="$BASE" --build-arg PYTHON_IMAGE="$PYTHON" -t "$name" \
      -f "deploy/images/${pair%%:*}.Containerfile" deploy/images >/dev/null
    echo "local-images: built $name"
  fi
done
