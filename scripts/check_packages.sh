#!/usr/bin/env bash
# Production installs hold runtime code only; one shared dev venv cannot show that, so each
# is checked in a throwaway environment of its own (run by `make lint`):
# - sportslog-common alone (uv sync --package sportslog-common --no-dev): every module
#   imports, and pytest, aiohttp and sportslog_testing are not installed;
# - each service as its container builds it: from only the files the Containerfile, with
#   SERVICE=<svc>, puts in the build context (the mounted pyprojects and lock, the COPY'd
#   libs/common and service),
#   uv sync --locked --package sportslog-<svc> --no-dev --no-editable; then the app, its
#   __main__ and every module of sportslog_common and the service import (no dependency
#   left undeclared), and sportslog_testing and pytest are not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Imports every module of the packages named, then fails if a forbidden module is installed.
imports_only_runtime() {
  "$1" - "$2" "$3" <<'EOF'
import importlib
import importlib.util
import pkgutil
import sys


def fail(name: str) -> None:
    raise ImportError(f"cannot import {name}")


packages, forbidden = sys.argv[1].split(), sys.argv[2].split()
count = 0
for package in packages:
    root = importlib.import_module(package)
    for module in pkgutil.walk_packages(root.__path__, f"{package}.", onerror=fail):
        importlib.import_module(module.name)
        count += 1
present = [name for name in forbidden if importlib.util.find_spec(name) is not None]
if present:
    raise SystemExit(f"installed in a production environment: {', '.join(present)}")
print(f"{count} modules of {', '.join(packages)} import; not installed: {', '.join(forbidden)}")
EOF
}

UV_PROJECT_ENVIRONMENT="$tmp/common" uv sync --quiet --locked --no-dev --package sportslog-common
echo -n "package sportslog-common: installs alone, "
imports_only_runtime "$tmp/common/bin/python" sportslog_common "pytest aiohttp sportslog_testing"

for svc in auth activities notifier gateway; do
  # The Containerfile as `--build-arg SERVICE=$svc` reads it.
  containerfile="$tmp/Containerfile-$svc"
  sed -e "s/\${SERVICE}/$svc/g" -e "s/\$SERVICE\b/$svc/g" Containerfile >"$containerfile"
  context="$tmp/context-$svc"
  mkdir "$context"
  mapfile -t mounted < <(grep -o 'type=bind,source=[^,]*' "$containerfile" | cut -d= -f3 | sort -u)
  mapfile -t copied < <(awk '$1 == "COPY" && $2 !~ /^--from/ { print $2 }' "$containerfile")
  # .python-version picks the interpreter the image's python:3.11 stands for.
  tar -c --exclude=__pycache__ .python-version "${mounted[@]}" "${copied[@]}" | tar -x -C "$context"
  (cd "$context" && UV_PROJECT_ENVIRONMENT="$tmp/$svc" \
    uv sync --quiet --locked --no-dev --no-editable --package "sportslog-$svc")
  "$tmp/$svc/bin/python" -c "import sportslog_$svc.app, sportslog_$svc.__main__"
  echo -n "package sportslog-$svc: installs alone from its build context, "
  imports_only_runtime "$tmp/$svc/bin/python" "sportslog_common sportslog_$svc" \
    "sportslog_testing pytest"
done
