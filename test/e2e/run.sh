#!/usr/bin/env bash
# `npm run test:e2e`: Fisher Lens in a real VS Code 1.96.4 (code-server) driven by real Chromium.
#   1. test/e2e/install.sh: apt packages if missing, code-server 4.96.4 into .e2e/ (cached; cold ≈ 1–3 min)
#   2. `npm run package` → fisher-lens.vsix (skip with E2E_VSIX=/path/to.vsix)
#   3. test/e2e/fisher-lens.e2e.ts: fresh user-data/extensions/workspace, install the .vsix, start code-server on
#      127.0.0.1:<free port>, drive the UI, screenshots + logs into test-results/
# Last line printed: `N passed, N failed`; exit status non-zero on any failure.
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
mkdir -p test-results
t0=$SECONDS
say() { echo "[e2e $(date +%T) +$((SECONDS - t0))s] $*"; }
setup_failed() { say "setup failed: $*"; echo "0 passed, 1 failed"; exit 1; }

say "install (apt packages, code-server)"
timeout 900 bash test/e2e/install.sh || setup_failed "test/e2e/install.sh (see .e2e/rebuild.log)"

# project dependencies (playwright-core, tsx) must be there: `npm ci` is the CI's job, but be helpful locally
[ -d node_modules/playwright-core ] && [ -d node_modules/tsx ] || setup_failed "node_modules missing: run npm ci first"

if [ -z "${E2E_VSIX:-}" ]; then
  say "npm run package (log: test-results/package.log)"
  rm -f fisher-lens.vsix
  if ! timeout 600 npm run package >test-results/package.log 2>&1 || [ ! -f fisher-lens.vsix ]; then
    tail -30 test-results/package.log
    setup_failed "npm run package did not produce fisher-lens.vsix"
  fi
  tail -3 test-results/package.log
  export E2E_VSIX=$REPO/fisher-lens.vsix
fi
say "vsix: $E2E_VSIX ($(du -h "$E2E_VSIX" | cut -f1))"

say "e2e test"
timeout --kill-after=20 900 node --import tsx test/e2e/fisher-lens.e2e.ts
rc=$?
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then say "e2e test timed out"; echo "0 passed, 1 failed"; fi
exit $rc
