#!/usr/bin/env bash
# Puts a CPU Vulkan driver that Dawn (the `webgpu` package) accepts into DIR: lavapipe from Mesa 25 (Debian 12
# bookworm-backports; Debian 12's own Mesa 22 is refused by Dawn), with the Vulkan loader when the system has
# none. Nothing is installed system-wide and apt's sources are not touched: the .debs are downloaded from the
# system's own Debian mirror into DIR and unpacked there.
# Usage: scripts/setup-lavapipe.sh DIR [--install-deps]   → then: source DIR/env.sh
# --install-deps (as root): apt-get install the Debian libraries lavapipe links against that are missing
# (LLVM, X11/Wayland client libraries; present wherever Chromium or Mesa is installed).
# Exit status 0: ready. 3: this machine cannot have it (not Debian 12 / x86-64, no apt, mirror unreachable, a
# library missing) — the reason is printed on the last line; callers may skip the webgpu tests on 3.
set -euo pipefail
DIR=$(mkdir -p "${1:?usage: setup-lavapipe.sh DIR [--install-deps]}" && cd "$1" && pwd)
INSTALL_DEPS=${2:-}
cannot() {
  echo "lavapipe cannot be set up here: $*"
  exit 3
}
[ "$(uname -m)" = x86_64 ] || cannot "not x86-64 ($(uname -m))"
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || cannot "no apt-get/dpkg-deb (not Debian)"
grep -q 'VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null || cannot "not Debian 12 (bookworm)"
lib=$DIR/root/usr/lib/x86_64-linux-gnu
if [ ! -f "$DIR/env.sh" ] || [ ! -f "$lib/libvulkan_lvp.so" ]; then
  mkdir -p "$DIR/apt/lists/partial" "$DIR/apt/cache/archives/partial" "$DIR/root"
  # Reuse the system's own Debian mirror, asking it for bookworm and bookworm-backports.
  uri=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1 | awk '{print $1}')
  [ -n "$uri" ] || uri=$(awk '$1=="deb"{for(i=2;i<=NF;i++) if ($i ~ /^http/) {print $i; exit}}' /etc/apt/sources.list 2>/dev/null)
  [ -n "$uri" ] || cannot "no Debian mirror in the apt sources"
  key=/usr/share/keyrings/debian-archive-keyring.gpg
  {
    echo "deb [signed-by=$key] $uri bookworm main"
    echo "deb [signed-by=$key] $uri bookworm-backports main"
  } >"$DIR/apt/sources.list"
  A=(-o Dir::Etc::sourcelist="$DIR/apt/sources.list" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$DIR/apt/lists"
    -o Dir::Cache="$DIR/apt/cache" -o APT::Sandbox::User=root)
  apt-get "${A[@]}" update -qq || cannot "the Debian mirror $uri did not answer"
  ver=$(apt-cache "${A[@]}" madison mesa-vulkan-drivers | awk -F'|' '/bpo12/ {gsub(/ /,"",$2); print $2; exit}')
  [ -n "$ver" ] || cannot "no mesa-vulkan-drivers in bookworm-backports"
  pkgs=("mesa-vulkan-drivers=$ver" libdrm2/bookworm-backports libdrm-amdgpu1/bookworm-backports)
  # The Vulkan loader, unless the system has it.
  ldconfig -p | grep -q 'libvulkan\.so\.1 ' || pkgs+=(libvulkan1/bookworm)
  (cd "$DIR/apt/cache" && apt-get "${A[@]}" download -qq "${pkgs[@]}") || cannot "download of ${pkgs[*]} failed"
  for d in "$DIR"/apt/cache/*.deb; do dpkg-deb -x "$d" "$DIR/root"; done
  cat >"$DIR/lvp_icd.json" <<JSON
{ "file_format_version": "1.0.0", "ICD": { "library_path": "$lib/libvulkan_lvp.so", "api_version": "1.4.305" } }
JSON
  mkdir -p "$DIR/xdg" "$DIR/shader-cache"
  chmod 700 "$DIR/xdg"
  # MESA_SHADER_CACHE_DIR: compiled shaders are kept between runs (a first step compiles for 10-14 s).
  cat >"$DIR/env.sh" <<ENV
export VK_ICD_FILENAMES=$DIR/lvp_icd.json
export VK_DRIVER_FILES=$DIR/lvp_icd.json
export LD_LIBRARY_PATH=$lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
export XDG_RUNTIME_DIR=$DIR/xdg
export MESA_SHADER_CACHE_DIR=$DIR/shader-cache
ENV
fi
# Every library lavapipe links against must resolve (LLVM, X11/Wayland client libraries come from the system).
missing() { LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd "$lib/libvulkan_lvp.so" | awk '/not found/ {print $1}' | tr '\n' ' '; }
if [ -n "$(missing)" ]; then
  deps=$(dpkg-deb -f "$DIR"/apt/cache/mesa-vulkan-drivers_*.deb Depends | tr ',' '\n' | sed 's/^ *//;s/[ (].*//' | grep -v '^libdrm' | tr '\n' ' ')
  if [ "$INSTALL_DEPS" = --install-deps ] && [ "$(id -u)" = 0 ]; then
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $deps >/dev/null || cannot "apt-get install $deps failed"
  fi
  [ -z "$(missing)" ] || cannot "libraries missing: $(missing)(as root: apt-get install -y $deps)"
fi
echo "lavapipe ($(cd "$DIR/apt/cache" && ls mesa-vulkan-drivers_*.deb)) ready: source $DIR/env.sh"
