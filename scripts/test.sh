#!/usr/bin/env bash
# Quick start, part two: install what the tests need (PostGIS, pgRouting, Chromium, a CJK font
# and GDAL's command-line tools through apt-get when they are missing; the map assets through
# npm) and run the whole suite. The PostGIS half runs on a throwaway cluster that the suite
# starts itself; if it cannot start, the suite fails rather than skips.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! ls /usr/lib/postgresql/*/lib/postgis-3.so >/dev/null 2>&1 \
   || ! ls /usr/share/postgresql/*/extension/pgrouting.control >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15-postgis-3 \
    postgresql-15-pgrouting >/dev/null
fi
# Map pages are tested in Debian's Chromium (never a browser a tool downloads itself), with
# a CJK font so that screenshots show the Chinese names.
if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "zenhei"; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null
fi
# The OGC API is tested with real GIS clients: Debian's GDAL (ogr2ogr) besides pyogrio's.
if [ ! -x /usr/bin/ogr2ogr ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gdal-bin >/dev/null
fi
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test]'
scripts/assets.sh
# Two workers (this machine's two cores); each test file runs whole on one of them, so that
# a module's server or cluster is set up once. `-n 0` runs in one process.
exec .venv/bin/python -m pytest --numprocesses=2 --dist=loadfile "$@"
