#!/usr/bin/env bash
# Quick start, part one: install griddispatch into .venv and run the main job on the
# embedded SQLite default (build the demo city, then locate and rank teams for its stories).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e .
exec .venv/bin/griddispatch demo "$@"
