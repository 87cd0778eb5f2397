/* Text forms of a connection's identity for event lines and labels, written
 * the way the host writes them (runtime/net/ip-format.ts): IP addresses in RFC
 * 5952 form, "addr:port" / "[v6]:port" endpoints, and a kernel comm as UTF-8
 * (bytes >= 0x80 as Latin-1). Used by the built-in tcp and http2 decoders, so
 * their lines agree; third-party decoders may use it too.
 *
 * Buffer sizes: lf_fmt_u64 <= 20 bytes, lf_fmt_ip <= 39, lf_fmt_endpoint <= 47,
 * lf_comm_utf8 <= 32. Nothing is NUL-terminated; each returns the length. */
#ifndef LF_NET_FMT_H
#define LF_NET_FMT_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline size_t lf_fmt_u64(char *dst, uint64_t v) {
  char tmp[20];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++) dst[i] = tmp[n - 1 - i];
  return n;
}

static inline size_t lf_fmt_priv_v4(char *dst, const uint8_t *b) {
  size_t n = 0;
  for (int i = 0; i < 4; i++) {
    if (i) dst[n++] = '.';
    n += lf_fmt_u64(dst + n, b[i]);
  }
  return n;
}

static inline size_t lf_fmt_priv_hex16(char *dst, unsigned g) {
  static const char hex[] = "0123456789abcdef";
  size_t n = 0;
  bool started = false;
  for (int sh = 12; sh >= 0; sh -= 4) {
    unsigned d = (g >> sh) & 15u;
    if (d || started || sh == 0) {
      dst[n++] = hex[d];
      started = true;
    }
  }
  return n;
}

static inline size_t lf_fmt_priv_v6(char *dst, const uint8_t *b) {
  bool mapped = b[10] == 0xff && b[11] == 0xff;
  for (int i = 0; i < 10 && mapped; i++) mapped = b[i] == 0;
  if (mapped) return lf_fmt_priv_v4(dst, b + 12);
  unsigned g[8];
  for (int i = 0; i < 8; i++) g[i] = ((unsigned)b[2 * i] << 8) | b[2 * i + 1];
  int best = -1, best_len = 1;
  for (int i = 0; i < 8;) {
    if (g[i]) { i++; continue; }
    int j = i;
    while (j < 8 && g[j] == 0) j++;
    if (j - i > best_len) { best = i; best_len = j - i; }
    i = j;
  }
  size_t n = 0;
  if (best < 0) {
    for (int i = 0; i < 8; i++) {
      if (i) dst[n++] = ':';
      n += lf_fmt_priv_hex16(dst + n, g[i]);
    }
    return n;
  }
  for (int i = 0; i < best; i++) {
    if (i) dst[n++] = ':';
    n += lf_fmt_priv_hex16(dst + n, g[i]);
  }
  dst[n++] = ':';
  dst[n++] = ':';
  for (int i = best + best_len; i < 8; i++) {
    if (i > best + best_len) dst[n++] = ':';
    n += lf_fmt_priv_hex16(dst + n, g[i]);
  }
  return n;
}

static inline size_t lf_fmt_ip(char *dst, uint8_t family, const uint8_t addr[16]) {
  if (family == 2) return lf_fmt_priv_v4(dst, addr);
  if (family == 10) return lf_fmt_priv_v6(dst, addr);
  static const char pre[] = "unknown-family-";
  memcpy(dst, pre, sizeof pre - 1);
  return sizeof pre - 1 + lf_fmt_u64(dst + sizeof pre - 1, family);
}

static inline size_t lf_fmt_endpoint(char *dst, uint8_t family, const uint8_t addr[16], uint16_t port) {
  char ip[40];
  size_t n = lf_fmt_ip(ip, family, addr), o = 0;
  bool colon = memchr(ip, ':', n) != NULL;
  if (colon) dst[o++] = '[';
  memcpy(dst + o, ip, n);
  o += n;
  if (colon) dst[o++] = ']';
  dst[o++] = ':';
  return o + lf_fmt_u64(dst + o, port);
}

/* The kernel's NUL-padded comm, read as latin1 (as the TS reader does), as UTF-8. */
static inline size_t lf_comm_utf8(char *dst, const char comm[16]) {
  size_t n = 0;
  for (int i = 0; i < 16; i++) {
    uint8_t ch = (uint8_t)comm[i];
    if (ch == 0) break;
    if (ch < 0x80) {
      dst[n++] = (char)ch;
    } else {
      dst[n++] = (char)(0xc0 | (ch >> 6));
      dst[n++] = (char)(0x80 | (ch & 0x3f));
    }
  }
  return n;
}

#endif
