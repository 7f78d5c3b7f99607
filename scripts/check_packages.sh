#!/usr/bin/env bash
# Each service installs on its own, as its container does (uv sync --package X --no-dev),
# and imports: one shared dev venv cannot catch a service using a dependency it didn't declare.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for svc in auth activities notifier gateway; do
  UV_PROJECT_ENVIRONMENT="$tmp/$svc" uv sync --quiet --locked --no-dev --package "sportslog-$svc"
  "$tmp/$svc/bin/python" -c "import sportslog_$svc.app, sportslog_$svc.__main__"
  echo "package sportslog-$svc: installs alone and imports"
done
