#!/usr/bin/env bash
# build-c-component.sh: builds C decoder sources into a lightfoot WebAssembly component.
#
# Usage:
#   build-c-component.sh [--world decoder-plugin|probe-plugin] [--max-memory BYTES]
#                        [-I DIR]... [-D NAME[=VALUE]]... -o OUT.wasm SRC.c [MORE.c]...
#
#   --world       WIT world of sdk/wit/decoder.wit to implement (default decoder-plugin;
#                 planner-plugin for a probe module's planner alone)
#   --max-memory  cap on linear memory, bytes, multiple of 65536 (default 16777216 = 16 MiB);
#                 baked into the module; the host's InstanceLimits.memoryBytes may be lower
#   -I, -D        passed to clang
#   -o            output component
#   --core        stop after linking: write the core module instead (no component, no
#                 import check); for inspection or for other componentizing tools
#   -v            print the commands run
#
# The sources include the generated header "<world>.h" (decoder_plugin.h / probe_plugin.h),
# implement the exports_lightfoot_decoder_* functions, and must return heap memory only
# (malloc / <world>_string_dup): the generated post-return functions free() every pointer
# of a result. They must not call anything that needs WASI (printf, fopen, clock_gettime,
# getenv, time…): the worlds have no imports, and this script fails, naming the
# imports, when the component has any (but the types-only lightfoot:decoder/types).
# malloc/free/memcpy/string/math functions are fine.
#
# Pipeline: wit-bindgen c (bindings + component-type object) → clang-19 --target=wasm32-wasi
# against Debian's wasi-libc (reactor: no main, _initialize runs constructors) with
# --stack-first (stack overflow traps at once instead of corrupting data) and
# --max-memory → core-import check (node's WebAssembly.Module.imports) → `jco new` without
# a WASI adapter (wit-component runs _initialize as the component's start) → import check
# with `jco wit`.
#
# Needs (Debian 12 packages, installed by scripts/setup.sh): clang-19, lld-19, wasi-libc,
# libclang-rt-19-dev-wasm32; wit-bindgen-cli 0.63.0 in ${LIGHTFOOT_TOOLS:-/var/cache/lightfoot/tools}/bin
# (scripts/setup.sh builds it); node (>= 20) and node_modules/.bin/jco (@bytecodealliance/jco, npm ci).
#
# Exit status: 0 on success, 1 on a build/check failure, 2 on bad usage. Errors go to
# stderr prefixed "build-c-component:"; nothing but errors is printed unless -v.
set -euo pipefail

prog=build-c-component
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
wit_dir="$root/sdk/wit"
tools=${LIGHTFOOT_TOOLS:-${LIGHTFOOT_CACHE:-/var/cache/lightfoot}/tools}
wit_bindgen="$tools/bin/wit-bindgen"
jco="$root/node_modules/.bin/jco"
clang=${CLANG:-clang-19}

die() { echo "$prog: $*" >&2; exit 1; }
usage() { sed -n '3,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

world=decoder-plugin
max_memory=16777216
out=
verbose=0
core_only=0
srcs=()
cflags=()
while [ $# -gt 0 ]; do
  case "$1" in
    --world) [ $# -ge 2 ] || usage; world=$2; shift 2 ;;
    --world=*) world=${1#*=}; shift ;;
    --max-memory) [ $# -ge 2 ] || usage; max_memory=$2; shift 2 ;;
    --max-memory=*) max_memory=${1#*=}; shift ;;
    -o) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    -I|-D) [ $# -ge 2 ] || usage; cflags+=("$1$2"); shift 2 ;;
    -I*|-D*) cflags+=("$1"); shift ;;
    -v) verbose=1; shift ;;
    --core) core_only=1; shift ;;
    -h|--help) usage ;;
    -*) echo "$prog: unknown option $1" >&2; usage ;;
    *) srcs+=("$1"); shift ;;
  esac
done
[ -n "$out" ] || { echo "$prog: -o OUT.wasm is required" >&2; usage; }
[ ${#srcs[@]} -gt 0 ] || { echo "$prog: no source files" >&2; usage; }
case "$world" in decoder-plugin|probe-plugin|planner-plugin) ;; *) echo "$prog: unknown world $world (decoder-plugin, probe-plugin or planner-plugin)" >&2; exit 2 ;; esac
[[ "$max_memory" =~ ^[0-9]+$ ]] && [ $((max_memory % 65536)) -eq 0 ] && [ "$max_memory" -gt 0 ] ||
  { echo "$prog: --max-memory must be a positive multiple of 65536 (got $max_memory)" >&2; exit 2; }
for s in "${srcs[@]}"; do [ -f "$s" ] || die "no such source file: $s"; done

[ -x "$wit_bindgen" ] || die "wit-bindgen not found at $wit_bindgen: run scripts/setup.sh (or set LIGHTFOOT_TOOLS)"
command -v "$clang" >/dev/null || die "$clang not found: run scripts/setup.sh (Debian: clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32)"
command -v wasm-ld-19 >/dev/null || command -v wasm-ld >/dev/null || die "wasm-ld not found: install lld-19 (scripts/setup.sh)"
[ -f /usr/lib/wasm32-wasi/libc.a ] || die "wasi-libc not found in /usr/lib/wasm32-wasi: install wasi-libc (scripts/setup.sh)"
[ -x "$jco" ] || die "jco not found at $jco: run npm ci in $root"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lf-c-component.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
run() { [ "$verbose" = 1 ] && echo "+ $*" >&2; "$@"; }
# Tools are chatty on success; show their output only when they fail.
quiet() {
  if ! run "$@" >"$tmp/log" 2>&1; then cat "$tmp/log" >&2; die "failed: $1"; fi
}

quiet "$wit_bindgen" c --world "$world" --out-dir "$tmp/bindings" "$wit_dir"
cname=${world//-/_}

# wasm-ld is found as `wasm-ld` by clang; Debian only ships wasm-ld-19, so point at it.
ld_flag=()
if ! command -v wasm-ld >/dev/null && command -v wasm-ld-19 >/dev/null; then
  ld_flag=(-fuse-ld="$(command -v wasm-ld-19)")
fi
quiet "$clang" --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor \
  -Wall -Wextra -Werror=implicit-function-declaration \
  -I "$tmp/bindings" "${cflags[@]}" "${ld_flag[@]}" \
  -Wl,--stack-first -Wl,--max-memory="$max_memory" -Wl,--strip-debug \
  -o "$tmp/core.wasm" \
  "${srcs[@]}" "$tmp/bindings/$cname.c" "$tmp/bindings/${cname}_component_type.o"

if [ "$core_only" = 1 ]; then
  mkdir -p "$(dirname "$out")"
  mv -f "$tmp/core.wasm" "$out"
  exit 0
fi

# Core imports (wasi_snapshot_preview1.fd_write from printf…) would make `jco new` fail
# with a message about adapters; name them instead.
core_imports=$(node -e '
  const m = new WebAssembly.Module(require("fs").readFileSync(process.argv[1]));
  for (const i of WebAssembly.Module.imports(m)) console.log(`${i.module}.${i.name}`);
' "$tmp/core.wasm") || die "cannot read the core module $tmp/core.wasm"
if [ -n "$core_imports" ]; then
  {
    echo "$prog: the code imports functions a lightfoot decoder may not use (decoders get no WASI):"
    printf '  %s\n' $core_imports
    echo "  (avoid printf/puts/fopen/getenv/time/clock_gettime/exit…; malloc, string and math functions are fine)"
  } >&2
  exit 1
fi

quiet "$jco" new "$tmp/core.wasm" -o "$tmp/component.wasm"

# The worlds import nothing but lightfoot:decoder/types, a types-only interface the
# exported interfaces `use` (WIT makes that an implicit import with no functions).
# Anything else would be refused by the host, so refuse it here, naming it.
run "$jco" wit "$tmp/component.wasm" >"$tmp/world.wit" 2>"$tmp/log" || { cat "$tmp/log" >&2; die "failed: jco wit"; }
imports=$(grep -E '^\s*import ' "$tmp/world.wit" | sed -E 's/^\s*import\s+//; s/;\s*$//' |
  grep -v -E '^lightfoot:decoder/types@0\.2\.0$' || true)
if [ -n "$imports" ]; then
  {
    echo "$prog: the component imports what a lightfoot decoder may not use:"
    printf '  %s\n' $imports
    echo "  (decoders get no WASI: avoid printf/puts/fopen/getenv/time/clock_gettime/abort-with-message…)"
  } >&2
  exit 1
fi

mkdir -p "$(dirname "$out")"
mv -f "$tmp/component.wasm" "$out"
[ "$verbose" = 1 ] && echo "$prog: wrote $out ($(stat -c %s "$out") bytes)" >&2
exit 0
