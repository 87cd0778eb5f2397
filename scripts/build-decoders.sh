#!/usr/bin/env bash
# build-decoders.sh: builds every C decoder component probes/<probe>/wasm/*.c into
# dist/probes/<probe>/decoder.wasm, and every planner probes/<probe>/planner/*.c into
# dist/probes/<probe>/planner.wasm (world planner-plugin), with sdk/scripts/build-c-component.sh.
#
# Usage: build-decoders.sh [-v] [--force] [PROBE...]   (default: every probes/*/wasm/)
#
# Idempotent and fast when nothing changed: the inputs (the probe's wasm/ sources,
# sdk/guest/c headers, sdk/wit, bpf/*.h, the component build script, the tool
# versions) are hashed; an output whose recorded hash matches is left alone, and
# a built component is also kept in a content-addressed cache
# (${LIGHTFOOT_DECODER_CACHE:-/var/cache/lightfoot/decoders}; skipped when not
# writable) so a clean checkout or another worktree does not rebuild it.
# An optional probes/<probe>/wasm/build-flags file holds extra arguments for
# build-c-component.sh (one line, e.g. `--max-memory 67108864`).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
prog=build-decoders
cache=${LIGHTFOOT_DECODER_CACHE:-${LIGHTFOOT_CACHE:-/var/cache/lightfoot}/decoders}
tools=${LIGHTFOOT_TOOLS:-${LIGHTFOOT_CACHE:-/var/cache/lightfoot}/tools}
verbose=0
force=0
want=()
while [ $# -gt 0 ]; do
  case "$1" in
    -v) verbose=1 ;;
    --force) force=1 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "$prog: unknown option $1" >&2; exit 2 ;;
    *) want+=("$1") ;;
  esac
  shift
done
log() { [ "$verbose" = 1 ] && echo "$prog: $*" >&2 || true; }

if [ ${#want[@]} -eq 0 ]; then
  for d in probes/*/wasm probes/*/planner; do [ -d "$d" ] && want+=("$(basename "$(dirname "$d")")"); done
  mapfile -t want < <(printf '%s\n' "${want[@]}" | sort -u)
fi
[ ${#want[@]} -gt 0 ] || { log "no probes/*/wasm/ directories"; exit 0; }

mkdir -p "$cache" 2>/dev/null && [ -w "$cache" ] || cache=

# Versions of the tools that shape the output.
tool_versions() {
  clang-19 --version 2>/dev/null | head -1 || true
  "$tools/bin/wit-bindgen" --version 2>/dev/null || true
  sed -n 's/^ *"version": *"\([^"]*\)".*/jco \1/p' node_modules/@bytecodealliance/jco/package.json 2>/dev/null | head -1 || true
}
common_hash=$(
  {
    tool_versions
    find sdk/guest/c sdk/wit bpf -maxdepth 1 -type f \( -name '*.h' -o -name '*.wit' \) -print0 | sort -z | xargs -0 sha256sum
    sha256sum sdk/scripts/build-c-component.sh "$0"
  } | sha256sum | cut -d' ' -f1
)

status=0
# Each probe may have a decoder (wasm/ -> decoder.wasm) and a planner (planner/ -> planner.wasm).
units=()
for probe in "${want[@]}"; do
  found=0
  [ -d "probes/$probe/wasm" ] && { units+=("$probe wasm decoder.wasm decoder-plugin"); found=1; }
  [ -d "probes/$probe/planner" ] && { units+=("$probe planner planner.wasm planner-plugin"); found=1; }
  [ $found = 1 ] || { echo "$prog: no probes/$probe/wasm or probes/$probe/planner" >&2; status=1; }
done
for unit in "${units[@]}"; do
  read -r probe sub outname world <<<"$unit"
  dir="probes/$probe/$sub"
  mapfile -t srcs < <(find "$dir" -maxdepth 1 -name '*.c' | sort)
  [ ${#srcs[@]} -gt 0 ] || { echo "$prog: no C sources in $dir" >&2; status=1; continue; }
  flags=()
  [ -f "$dir/build-flags" ] && read -r -a flags < "$dir/build-flags"
  hash=$(
    {
      echo "$common_hash"
      echo "${flags[*]:-} $world"
      find "$dir" -maxdepth 1 -type f -print0 | sort -z | xargs -0 sha256sum
    } | sha256sum | cut -d' ' -f1
  )
  out="dist/probes/$probe/$outname"
  stamp="$out.sha256-inputs"
  if [ "$force" = 0 ] && [ -f "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then
    log "$probe: up to date"
    continue
  fi
  mkdir -p "$(dirname "$out")"
  tmp="$out.tmp.$$"
  if [ "$force" = 0 ] && [ -n "$cache" ] && [ -f "$cache/$hash.wasm" ]; then
    log "$probe: from cache $cache/$hash.wasm"
    cp "$cache/$hash.wasm" "$tmp"
  else
    log "$probe: building ${srcs[*]}"
    vflag=()
    [ "$verbose" = 1 ] && vflag=(-v)
    if ! bash sdk/scripts/build-c-component.sh "${vflag[@]}" --world "$world" "${flags[@]}" -I sdk/guest/c -o "$tmp" "${srcs[@]}"; then
      echo "$prog: $probe: build failed" >&2
      rm -f "$tmp"
      status=1
      continue
    fi
    if [ -n "$cache" ]; then
      cp "$tmp" "$cache/$hash.wasm.$$" && mv -f "$cache/$hash.wasm.$$" "$cache/$hash.wasm" || true
    fi
  fi
  mv -f "$tmp" "$out"
  echo "$hash" > "$stamp"
  log "$probe: wrote $out ($(stat -c %s "$out") bytes)"
done
exit $status
