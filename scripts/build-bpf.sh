#!/usr/bin/env bash
# Compiles every bpf/*.bpf.c into dist/bpf/ (CO-RE, clang-19) and checks that
# the event headers have no implicit padding. vmlinux.h is generated from the
# running kernel's BTF into a cache outside the checkout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${LIGHTFOOT_CACHE:-/var/cache/lightfoot}/bpf
out=$root/dist/bpf
mkdir -p "$cache" "$out"
clang=${CLANG:-clang-19}
command -v "$clang" >/dev/null || { echo "build-bpf: $clang not found (run scripts/setup.sh)" >&2; exit 1; }

vmlinux=$cache/vmlinux.h
btf=/sys/kernel/btf/vmlinux
stamp=$cache/vmlinux.stamp
want="$(uname -r) $(stat -c %s "$btf")"
if [ ! -s "$vmlinux" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  bpftool btf dump file "$btf" format c > "$vmlinux.tmp" && mv "$vmlinux.tmp" "$vmlinux"
  echo "$want" > "$stamp"
fi
libbpf_inc=${LIBBPF_INCLUDE:-/usr/include}

for hdr in "$root"/bpf/*.h; do
  case "$hdr" in *.bpf.h) continue ;; esac # BPF-side code, not a shared layout
  # Event layouts cross the kernel/user boundary: no implicit padding allowed.
  "$clang" -fsyntax-only -Wpadded -Werror -x c -include linux/types.h "$hdr"
done
for src in "$root"/bpf/*.bpf.c; do
  obj=$out/$(basename "${src%.c}").o
  "$clang" -target bpf -D__TARGET_ARCH_x86 -O2 -g -Wall -Werror \
    -I"$root/bpf" -isystem "$cache" -isystem "$libbpf_inc" -c "$src" -o "$obj"
done
