/*
 * The OpenSSL/BoringSSL planner (world planner-plugin of sdk/wit/decoder.wit):
 * which functions of a binary get the openssl probe's programs. The host gives
 * it only the symbols of the module's interest list (manifest.ts) and checks
 * every attach it returns against the binary.
 *
 * Built with -DLF_HOSTILE=N into test fixtures that misbehave on purpose
 * (test/kernel/openssl-planner.test.ts): 1 trap, 2 endless loop, 3 memory
 * hog, 4 a program of another module, 5 an offset past the symbol, 6 a
 * uretprobe in a Go binary, 7 a huge plan.
 */
#include <stdlib.h>
#include <string.h>
#include "planner_plugin.h"

typedef lightfoot_decoder_types_attach_spec_t spec_t;
typedef lightfoot_decoder_types_binary_info_t info_t;

/* Cookie values: enum lf_ssl_func of bpf/openssl.h. */
enum { FN_READ = 0, FN_WRITE = 1, FN_READ_EX = 2, FN_WRITE_EX = 3, FN_WRITE_EX2 = 4 };

static const struct {
  const char *symbol;
  const char *entry; /* program at the entry */
  int cookie;
} IO[] = {
  { "SSL_read", "lf_ssl_rw_enter", FN_READ },
  { "SSL_write", "lf_ssl_rw_enter", FN_WRITE },
  { "SSL_read_ex", "lf_ssl_rw_ex_enter", FN_READ_EX },
  { "SSL_write_ex", "lf_ssl_rw_ex_enter", FN_WRITE_EX },
  { "SSL_write_ex2", "lf_ssl_write_ex2_enter", FN_WRITE_EX2 },
};
#define N_IO (sizeof(IO) / sizeof(IO[0]))
#define EXIT_PROGRAM "lf_ssl_rw_exit"
#define FREE_PROGRAM "lf_ssl_free"

static const lightfoot_decoder_types_symbol_t *find(const info_t *info, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < info->symbols.len; i++) {
    const planner_plugin_string_t *s = &info->symbols.ptr[i].name;
    if (s->len == n && memcmp(s->ptr, name, n) == 0) return &info->symbols.ptr[i];
  }
  return NULL;
}

static void add(spec_t *out, size_t *n, const char *program, const char *symbol, uint64_t offset,
                lightfoot_decoder_types_attach_mode_t mode, uint32_t cookie) {
  spec_t *s = &out[(*n)++];
  planner_plugin_string_dup(&s->program, program);
  planner_plugin_string_dup(&s->symbol, symbol);
  s->offset = offset;
  s->mode = mode;
  s->cookie = cookie;
}

static void note(planner_plugin_list_string_t *notes, const char *text) {
  notes->ptr = realloc(notes->ptr, (notes->len + 1) * sizeof(*notes->ptr));
  planner_plugin_string_dup(&notes->ptr[notes->len++], text);
}

#ifndef LF_HOSTILE
#define LF_HOSTILE 0
#endif

bool exports_lightfoot_decoder_planner_plan(info_t *info, lightfoot_decoder_types_probe_plan_t *ret,
                                            planner_plugin_string_t *err) {
  memset(ret, 0, sizeof(*ret));
#if LF_HOSTILE == 1
  __builtin_trap();
#elif LF_HOSTILE == 2
  for (volatile int i = 0;; i++) {}
#elif LF_HOSTILE == 3
  static char *volatile sink;
  for (;;) { char *p = malloc(1 << 20); if (p) memset(p, 1, 1 << 20); sink = p; }
#endif
  if (info->go_version.is_some && LF_HOSTILE != 6) {
    planner_plugin_string_dup(err, "a Go binary: TLS there is crypto/tls, not OpenSSL (and Go code never gets uretprobes)");
    return false;
  }
  if (info->symbol_count == 0) {
    planner_plugin_string_dup(err, "the binary has no symbol table (stripped): SSL_read/SSL_write cannot be found");
    return false;
  }
  spec_t *out = calloc(2 * N_IO + 1 + (LF_HOSTILE == 7 ? 100000 : 0), sizeof(spec_t));
  size_t n = 0;
  for (size_t i = 0; i < N_IO; i++) {
    const lightfoot_decoder_types_symbol_t *sym = find(info, IO[i].symbol);
    if (!sym) continue;
    add(out, &n, IO[i].entry, IO[i].symbol, 0, LIGHTFOOT_DECODER_TYPES_ATTACH_MODE_UPROBE, IO[i].cookie);
    add(out, &n, EXIT_PROGRAM, IO[i].symbol, 0, LIGHTFOOT_DECODER_TYPES_ATTACH_MODE_URETPROBE, IO[i].cookie);
  }
  if (n == 0) {
    free(out);
    planner_plugin_string_dup(err, "no SSL_read, SSL_write, SSL_read_ex, SSL_write_ex or SSL_write_ex2 symbol: not OpenSSL/BoringSSL");
    return false;
  }
  if (find(info, "SSL_free"))
    add(out, &n, FREE_PROGRAM, "SSL_free", 0, LIGHTFOOT_DECODER_TYPES_ATTACH_MODE_UPROBE, 0);
  else
    note(&ret->notes, "no SSL_free: connections are forgotten by LRU eviction, not at close");
  if (!find(info, "SSL_write_ex2")) note(&ret->notes, "no SSL_write_ex2 (OpenSSL before 3.4, 1.1.1, or BoringSSL)");
  if (!find(info, "SSL_read_ex")) note(&ret->notes, "no SSL_read_ex/SSL_write_ex in this binary (OpenSSL before 1.1.1, BoringSSL, or a static link that left them out)");
  note(&ret->notes, "offsets: ELF symbol table of the binary (entry points); returns by uretprobe (C code)");
#if LF_HOSTILE == 4
  planner_plugin_string_dup(&out[0].program, "lf_tcp_set_state");
#elif LF_HOSTILE == 5
  out[0].offset = 1ull << 40;
#elif LF_HOSTILE == 6
  /* Asks for uretprobes even in a Go binary: the host must refuse it. */
#elif LF_HOSTILE == 7
  while (n < 2 * N_IO + 1 + 100000) add(out, &n, EXIT_PROGRAM, "SSL_read", 0, LIGHTFOOT_DECODER_TYPES_ATTACH_MODE_URETPROBE, 0);
#endif
  ret->attach.ptr = out;
  ret->attach.len = n;
  return true;
}
