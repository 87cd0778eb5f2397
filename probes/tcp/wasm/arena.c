/* The guest heap: one bump arena, reset between calls.
 *
 * The generated bindings free() every string and list of a result in the
 * post-return function, so a normal malloc would cost one allocation per label
 * value, field key and list. Here malloc bumps a pointer, free does nothing,
 * and the first allocation after a call returned (lf_arena_call_done()) starts
 * over at the base: the previous result has been lifted and post-returned by
 * then, and the next call's argument (the batch, via cabi_realloc) is the first
 * thing allocated. Long-lived state lives in static tables (decode.c), never
 * here. Linear memory only grows, up to the high-water mark of one call.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>

#include "tcp_decoder.h"

extern unsigned char __heap_base;

#define HDR 16u /* size header, keeps 16-byte alignment */

static uintptr_t a_base, a_ptr, a_end, a_last;
static int a_reset_pending;

void lf_arena_call_done(void) { a_reset_pending = 1; }

static void *a_alloc(size_t n, size_t align) {
  if (a_base == 0) {
    a_base = a_ptr = ((uintptr_t)&__heap_base + 15u) & ~(uintptr_t)15u;
    a_end = (uintptr_t)__builtin_wasm_memory_size(0) * 65536u;
  }
  if (a_reset_pending) {
    a_ptr = a_base;
    a_last = 0;
    a_reset_pending = 0;
  }
  if (align < 16) align = 16;
  uintptr_t p = (a_ptr + HDR + align - 1) & ~(uintptr_t)(align - 1);
  if (n > SIZE_MAX - p - 16) return NULL;
  uintptr_t end = p + n;
  if (end > a_end) {
    size_t pages = (end - a_end + 65535u) / 65536u;
    if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) return NULL;
    a_end += pages * 65536u;
  }
  *(size_t *)(p - sizeof(size_t)) = n;
  a_ptr = (end + 15u) & ~(uintptr_t)15u;
  a_last = p;
  return (void *)p;
}

void *malloc(size_t n) { return a_alloc(n, 16); }
void free(void *p) { (void)p; }

void *calloc(size_t n, size_t m) {
  if (m && n > SIZE_MAX / m) return NULL;
  void *p = a_alloc(n * m, 16);
  if (p) memset(p, 0, n * m);
  return p;
}

void *realloc(void *old, size_t n) {
  if (old == NULL || a_reset_pending) return a_alloc(n, 16);
  size_t was = *(size_t *)((uintptr_t)old - sizeof(size_t));
  if ((uintptr_t)old == a_last) { /* the newest block: grow or shrink in place */
    uintptr_t end = (uintptr_t)old + n;
    if (end > a_end) {
      size_t pages = (end - a_end + 65535u) / 65536u;
      if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) return NULL;
      a_end += pages * 65536u;
    }
    *(size_t *)((uintptr_t)old - sizeof(size_t)) = n;
    a_ptr = (end + 15u) & ~(uintptr_t)15u;
    return old;
  }
  void *p = a_alloc(n, 16);
  if (p) memcpy(p, old, was < n ? was : n);
  return p;
}

void *aligned_alloc(size_t align, size_t n) { return a_alloc(n, align); }
int posix_memalign(void **out, size_t align, size_t n) {
  void *p = a_alloc(n, align);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
size_t malloc_usable_size(void *p) { return p ? *(size_t *)((uintptr_t)p - sizeof(size_t)) : 0; }
