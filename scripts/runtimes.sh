#!/usr/bin/env bash
# The runtimes the tests run on besides the machine's Node: Node 22/24/26, Bun, Deno, workerd
# (miniflare) and Vercel's edge runtime, pinned in scripts/runtimes/package-lock.json and installed
# from the npm registry into .runtimes/ (gitignored), once per lockfile change.
#
#   scripts/runtimes.sh fetch    install (or keep) .runtimes/
#   scripts/runtimes.sh suite    the test suite on Node 24 (files listed in NODE24_EXCLUDE left out)
#   scripts/runtimes.sh bin NAME print the path of a runtime's executable (node22, node24, node26, bun, deno)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=.runtimes

# Left out of the Node 24 run, and why (README "Support matrix" says the same):
#  - e2e: drives Chromium against the reference app; what it checks does not depend on the Node version.
#  - types: runs the TypeScript compiler over example projects; the Node version does not change it.
#  - package-install, runtimes-*: run once (on the machine's Node) and drive Node 22/24/26, Bun, Deno,
#    workerd and the edge runtime themselves.
#  - sqlite-store, cli: they open files with better-sqlite3, whose addon is built for the machine's
#    Node only; a rebuild per Node major compiles SQLite for minutes, over the CI budget. On Node 24
#    the store runs on node:sqlite (test/sqlite-node-store.test.ts and the lifecycle model).
#  - the heavy store files (minutes each on 2 cores; they test the stores' protocol over the network,
#    which the Node version does not change): lifecycle models on memory/Redis/Cluster/PostgreSQL
#    (the SQLite one stays: it runs node:sqlite), redis-cluster, redis-failure.
NODE24_EXCLUDE=('test/e2e/**' test/types.test.ts test/package-install.test.ts 'test/runtimes-*.test.ts' test/sqlite-store.test.ts test/cli.test.ts
  test/lifecycle-model-memory.test.ts test/lifecycle-model-redis.test.ts test/lifecycle-model-cluster.test.ts
  test/lifecycle-model-postgres.test.ts test/redis-cluster.test.ts test/redis-failure.test.ts)

fetch() {
  mkdir -p "$DIR"
  exec 9>"$DIR/.lock"
  flock 9
  if ! cmp -s scripts/runtimes/package-lock.json "$DIR/installed.json"; then
    rm -rf "$DIR/node_modules" "$DIR/installed.json"
    cp scripts/runtimes/package.json scripts/runtimes/package-lock.json "$DIR/"
    # Every binary ships inside its package: no install script needs to run.
    (cd "$DIR" && npm ci --no-audit --no-fund --loglevel=error --ignore-scripts)
    # Written last: it marks a complete install.
    cp scripts/runtimes/package-lock.json "$DIR/installed.json"
  fi
  flock -u 9
}

bin() {
  case "$1" in
    node22|node24|node26) echo "$PWD/$DIR/node_modules/$1/bin/node" ;;
    bun) echo "$PWD/$DIR/node_modules/@oven/bun-linux-x64/bin/bun" ;;
    deno) echo "$PWD/$DIR/node_modules/@deno/linux-x64-glibc/deno" ;;
    *) echo "unknown runtime $1" >&2; exit 2 ;;
  esac
}

suite() {
  fetch
  local args=()
  for x in "${NODE24_EXCLUDE[@]}"; do args+=(--exclude "$x"); done
  SESSIONWARD_RUNTIME=node24 "$(bin node24)" node_modules/vitest/vitest.mjs run "${args[@]}" "$@"
}

cmd="${1:-}"
shift || true
case "$cmd" in
  fetch) fetch ;;
  suite) suite "$@" ;;
  bin) bin "$@" ;;
  *) echo "usage: $0 fetch|suite|bin NAME" >&2; exit 2 ;;
esac
