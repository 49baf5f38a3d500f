#!/usr/bin/env bash
# Quick start, part one: install griddispatch into .venv and run the main job on the
# embedded SQLite default: build the demo city (with its demo-only accounts) if needed,
# print where its stories happen, then serve the API and maps on http://127.0.0.1:8000
# (log in to the maps at /maps/login). `--simulate` keeps the city alive meanwhile
# (griddispatch simulate beside the server); other arguments go to `griddispatch serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e .
scripts/assets.sh
.venv/bin/griddispatch demo
exec .venv/bin/griddispatch serve "$@"
