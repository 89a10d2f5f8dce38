#!/usr/bin/env bash
# Freestanding Cortex-M4F build of the portable firmware code (node + edge_runtime, no port):
# proves it needs no OS, no heap, no exceptions and no RTTI, and reports its size.
#
#   firmware/cross/build.sh [OUT_DIR]        (make cross)
#
# Every .cpp under components/node/src and components/edge_runtime/src (except the
# target-specific src/esp32s3/) is compiled with arm-none-eabi-g++; a source that does not compile
# freestanding is listed with the first error line and left out. Exit status 1 if a node source
# fails.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fw="$(dirname "$here")"
out="${1:-build/cross}"
mkdir -p "$out/obj"
CXX=arm-none-eabi-g++
FLAGS=(-std=c++17 -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard -ffreestanding
       -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-use-cxa-atexit -Os
       -ffunction-sections -fdata-sections -ffp-contract=off -Wall -Wextra -Werror
       -I"$fw/components/node/include" -I"$fw/components/edge_runtime/include"
       -I"$fw/components/edge_runtime/src")
status=0
compile() {  # component source
  local comp="$1" src="$2" obj
  obj="$out/obj/$comp/$(echo "${src#"$fw/components/$comp/src/"}" | tr '/' '_').o"
  mkdir -p "$(dirname "$obj")"
  if err=$("$CXX" "${FLAGS[@]}" -c "$src" -o "$obj" 2>&1); then
    echo "$obj"
  else
    rm -f "$obj"
    echo "left out: ${src#"$fw/"}: $(echo "$err" | grep -m1 -E 'error|fatal' | sed 's/^[^:]*:[0-9]*:[0-9]*: //')" >&2
    [ "$comp" = node ] && return 1
  fi
  return 0
}
for comp in node edge_runtime; do
  rm -f "$out/lib$comp.a"
  objs=()
  while IFS= read -r src; do
    if o=$(compile "$comp" "$src"); then
      [ -n "$o" ] && objs+=("$o")
    else
      status=1
    fi
  done < <(find "$fw/components/$comp/src" -name '*.cpp' -not -path '*/esp32s3/*' | sort)
  [ ${#objs[@]} -gt 0 ] && arm-none-eabi-ar rcs "$out/lib$comp.a" "${objs[@]}"
  echo "== $comp (${#objs[@]} objects, Cortex-M4F, -Os, freestanding)"
  arm-none-eabi-size -t "$out/lib$comp.a" | awk 'NR==1 || /TOTALS/'
done
exit $status
