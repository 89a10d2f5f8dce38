#!/usr/bin/env bash
# Installs the Debian packages Fieldbench needs when they are missing.
# As root it uses apt-get; otherwise it names the packages and stops.
set -euo pipefail

packages=(
  cmake g++ make python3-venv
  libmbedtls-dev  # the bundle verifier (ECDSA P-256, SHA-256) in the firmware host build
  # Qt 6 runtime libraries PySide6 wheels expect on the system (offscreen and xcb).
  libegl1 libgl1 libglib2.0-0 libfontconfig1 libfreetype6 libxkbcommon0 libdbus-1-3
  libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
  libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1
)
extra=("$@")

missing=()
for p in "${packages[@]}" "${extra[@]}"; do
  [ -n "$p" ] || continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# python3-venv is only needed when this python3 lacks ensurepip (Debian's split packaging).
if python3 -c "import ensurepip, venv" 2>/dev/null; then
  tmp=(); for p in "${missing[@]}"; do [ "$p" = python3-venv ] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "fieldbench: not a Debian/Ubuntu system; make sure these are installed: ${missing[*]}" >&2
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  echo "fieldbench: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || true
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "fieldbench: missing Debian packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
