#!/usr/bin/env bash
# Installs the pinned Node.js tools of tools/npm/package-lock.json (linters, SDK generator,
# test libraries) into a cache folder outside the repository, once per version of the lock
# file, and prints that folder: its node_modules/.bin holds the commands.
# WEBHOOKD_NPM_CACHE moves the cache (default ~/.cache/webhookd-npm).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sum=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-16)
root="${WEBHOOKD_NPM_CACHE:-$HOME/.cache/webhookd-npm}"
dir="$root/$sum"
mkdir -p "$root"
(
  flock 9
  if [ ! -f "$dir/.installed" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$here/package.json" "$here/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
    touch "$dir/.installed"
  fi
) 9>"$root/.lock"
echo "$dir"
