#!/usr/bin/env bash
# `make images`: the four service images, localhost/sportslog-<service>:latest, with podman
# where present, else docker. Where the public base images cannot be pulled (no registry:
# probed, or LOCAL_IMAGES=1), they are built on the local Debian base (scripts/local-images.sh)
# and uv comes from PyPI. ONLY="auth gateway" builds some.
set -euo pipefail
cd "$(dirname "$0")/.."

ENGINE=${ENGINE:-$(command -v podman || command -v docker || true)}
[ -n "$ENGINE" ] || { echo "make images: needs podman or docker"; exit 1; }
export ENGINE

registry_reachable() {
  # Docker Hub answers 401 to an anonymous /v2/ when it is reachable at all.
  command -v curl >/dev/null && curl -s -o /dev/null -m 5 https://registry-1.docker.io/v2/
}

args=(
  --build-arg "VERSION=$(git describe --tags --always 2>/dev/null || echo dev)"
  --build-arg "REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)"
  --build-arg "SOURCE=$(git remote get-url origin 2>/dev/null || true)"
)
# Podman writes OCI images by default, which have no HEALTHCHECK: keep Docker's format.
[[ "$(basename "$ENGINE")" == podman* ]] && args+=(--format docker)
if [ -n "${LOCAL_IMAGES:-}" ] || ! registry_reachable; then
  echo "make images: no image registry reachable: building on the local Debian base"
  bash scripts/local-images.sh
  args+=(--build-arg PYTHON_IMAGE=localhost/sportslog-python:3.11 --build-arg UV_IMAGE=)
fi

for service in ${ONLY:-auth activities notifier gateway}; do
  started=$SECONDS
  log=$(mktemp)
  if ! "$ENGINE" build "${args[@]}" --build-arg "SERVICE=$service" \
    -t "localhost/sportslog-$service:latest" -f Containerfile . >"$log" 2>&1; then
    cat "$log"; echo "make images: building $service failed"; exit 1
  fi
  rm -f "$log"
  size=$("$ENGINE" image inspect --format '{{.Size}}' "localhost/sportslog-$service:latest")
  echo "make images: localhost/sportslog-$service:latest, $((size / 1000000)) MB, $((SECONDS - started)) s"
done
