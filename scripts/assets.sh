#!/usr/bin/env bash
# Install the map pages' browser assets (Leaflet and plugins, pinned in
# maps/vendor/package-lock.json) from the npm registry, so that the application serves them
# itself and the pages work on a network without internet. Skipped when already installed
# from the same lock file.
set -euo pipefail
cd "$(dirname "$0")/../maps/vendor"
stamp=node_modules/.installed-from-lock
if cmp -s package-lock.json "$stamp" 2>/dev/null; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json "$stamp"
