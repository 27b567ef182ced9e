#!/usr/bin/env bash
# Installs what the e2e test needs, idempotently and cached:
#   - Debian packages: chromium (the browser), ripgrep (replaces @vscode/ripgrep's GitHub download),
#     libkrb5-dev + pkg-config + build-essential + python3 (native modules of code-server / VS Code);
#   - code-server 4.96.4 (= VS Code 1.96.4) from npm into <repo>/.e2e (git-ignored), with the lockfile
#     test/e2e/package-lock.json and three work-arounds (see below).
# Skipped entirely when `.e2e/node_modules/.bin/code-server --version` already prints the pinned version.
# Usage: bash test/e2e/install.sh            (run.sh calls it)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E=$REPO/.e2e
CS_VERSION=4.96.4
t() { echo "[e2e-install $(date +%T)] $*"; }

# ---- Debian packages (only what is missing) ----------------------------------------------------------
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v rg >/dev/null 2>&1 || need_apt+=(ripgrep)
for p in libkrb5-dev pkg-config build-essential python3; do dpkg -s "$p" >/dev/null 2>&1 || need_apt+=("$p"); done
if ((${#need_apt[@]})); then
  t "apt-get install ${need_apt[*]}"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium ripgrep libkrb5-dev pkg-config build-essential python3 >/dev/null
fi

# ---- code-server -------------------------------------------------------------------------------------
CS=$E2E/node_modules/.bin/code-server
export XDG_CONFIG_HOME=$E2E/xdg/config XDG_DATA_HOME=$E2E/xdg/data XDG_CACHE_HOME=$E2E/xdg/cache # code-server --version writes a config.yaml there
cs_version() { [ -x "$CS" ] && "$CS" --version 2>/dev/null | grep "^$CS_VERSION " || true; }
if [ -n "$(cs_version)" ]; then
  t "code-server $CS_VERSION cached in .e2e (delete .e2e to reinstall)"
  exit 0
fi
s=$SECONDS
t "installing code-server $CS_VERSION into $E2E (cold: ~3 min)"
rm -rf "$E2E/node_modules"
mkdir -p "$E2E/tmp"
cp "$REPO/test/e2e/package.json" "$REPO/test/e2e/package-lock.json" "$E2E/"
cd "$E2E"
# Private temp + XDG dirs so nothing leaks into (or depends on) the user's home.
export TMPDIR=$E2E/tmp XDG_CONFIG_HOME=$E2E/xdg/config XDG_DATA_HOME=$E2E/xdg/data XDG_CACHE_HOME=$E2E/xdg/cache
# 0) dependency tree from the committed lockfile, no install scripts yet.
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
# 1) code-server's lib/vscode pins @vscode/proxy-agent to a GitHub commit: point it at the npm tarball.
REGISTRY=$(npm config get registry) node -e '
const f = "node_modules/code-server/lib/vscode/npm-shrinkwrap.json", fs = require("fs"), d = JSON.parse(fs.readFileSync(f));
const e = d.packages["node_modules/@vscode/proxy-agent"];
const reg = process.env.REGISTRY.replace(/\/$/, "");
if (e && String(e.resolved).startsWith("git")) { e.resolved = `${reg}/@vscode/proxy-agent/-/proxy-agent-${e.version}.tgz`; delete e.integrity; }
fs.writeFileSync(f, JSON.stringify(d, null, 2));'
# 2) @vscode/ripgrep's postinstall downloads rg from GitHub: pre-seed its download cache with Debian's rg.
RGV=$(node -p 'require("./node_modules/code-server/lib/vscode/npm-shrinkwrap.json").packages["node_modules/@vscode/ripgrep"].version')
mkdir -p "$TMPDIR/rg" "$TMPDIR/vscode-ripgrep-cache-$RGV"
cp "$(command -v rg)" "$TMPDIR/rg/rg"
tar czf "$TMPDIR/vscode-ripgrep-cache-$RGV/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$TMPDIR/rg" rg
# 3) run the install scripts now: argon2 from source, code-server's postinstall (npm install in lib/vscode,
#    native builds; kerberos needs libkrb5-dev).
t "npm rebuild argon2 code-server (log: .e2e/rebuild.log)"
if ! npm_config_unsafe_perm=true npm rebuild argon2 code-server --foreground-scripts >"$E2E/rebuild.log" 2>&1; then
  tail -40 "$E2E/rebuild.log"; t "code-server install FAILED"; exit 1
fi
[ -n "$(cs_version)" ] || { t "code-server --version does not print $CS_VERSION after the install"; exit 1; }
cs_version
t "code-server installed in $((SECONDS - s))s"
