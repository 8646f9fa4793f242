#!/usr/bin/env bash
# Regenerate the SEC id -> test table at the end of docs/security.md.
set -euo pipefail
cd "$(dirname "$0")/.."
head -n "$(grep -n '^| id | implemented by | tests |' docs/security.md | cut -d: -f1)" docs/security.md | head -n -1 > .security.tmp
npx tsx scripts/security-map.ts >> .security.tmp
mv .security.tmp docs/security.md
