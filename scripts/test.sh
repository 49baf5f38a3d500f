#!/usr/bin/env bash
# Quick start, part two: install what the tests need (PostGIS through apt-get when it is
# missing) and run the whole suite. The PostGIS half runs on a throwaway cluster that the
# suite starts itself; if it cannot start, the suite fails rather than skips.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! ls /usr/lib/postgresql/*/lib/postgis-3.so >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15-postgis-3 >/dev/null
fi
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test]'
exec .venv/bin/python -m pytest "$@"
