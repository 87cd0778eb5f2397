/* Text forms: IP addresses (RFC 5952, as runtime/net/ip-format.ts), endpoints,
 * process names, and the label values of a connection. */
#include "tcp_decoder.h"

size_t lf_fmt_u64(char *dst, uint64_t v) {
  char tmp[20];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++) dst[i] = tmp[n - 1 - i];
  return n;
}

static size_t fmt_v4(char *dst, const uint8_t *b) {
  size_t n = 0;
  for (int i = 0; i < 4; i++) {
    if (i) dst[n++] = '.';
    n += lf_fmt_u64(dst + n, b[i]);
  }
  return n;
}

static size_t fmt_hex16(char *dst, unsigned g) {
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

static size_t fmt_v6(char *dst, const uint8_t *b) {
  bool mapped = b[10] == 0xff && b[11] == 0xff;
  for (int i = 0; i < 10 && mapped; i++) mapped = b[i] == 0;
  if (mapped) return fmt_v4(dst, b + 12);
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
      n += fmt_hex16(dst + n, g[i]);
    }
    return n;
  }
  for (int i = 0; i < best; i++) {
    if (i) dst[n++] = ':';
    n += fmt_hex16(dst + n, g[i]);
  }
  dst[n++] = ':';
  dst[n++] = ':';
  for (int i = best + best_len; i < 8; i++) {
    if (i > best + best_len) dst[n++] = ':';
    n += fmt_hex16(dst + n, g[i]);
  }
  return n;
}

size_t lf_fmt_ip(char *dst, uint8_t family, const uint8_t addr[16]) {
  if (family == 2) return fmt_v4(dst, addr);
  if (family == 10) return fmt_v6(dst, addr);
  static const char pre[] = "unknown-family-";
  memcpy(dst, pre, sizeof pre - 1);
  return sizeof pre - 1 + lf_fmt_u64(dst + sizeof pre - 1, family);
}

size_t lf_fmt_endpoint(char *dst, uint8_t family, const uint8_t addr[16], uint16_t port) {
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
size_t lf_comm_utf8(char *dst, const char comm[16]) {
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

const char *lf_role_name(uint8_t role) {
  return role == LF_TCP_ROLE_CLIENT ? "client" : role == LF_TCP_ROLE_SERVER ? "server" : "unknown";
}

static const char *const STATE_NAMES[] = {
    "UNKNOWN", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
    "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV", "BOUND_INACTIVE",
};

const char *lf_state_name(uint8_t state) {
  return state < sizeof STATE_NAMES / sizeof STATE_NAMES[0] ? STATE_NAMES[state] : NULL;
}

void lf_conn_labels(conn_t *c, const struct lf_tcp_event *ev) {
  size_t n = 0;
  const char *role = lf_role_name(ev->role);
  c->off[L_PID] = 0;
  n += lf_fmt_u64(c->buf + n, ev->tgid);
  c->off[L_COMM] = (uint8_t)n;
  n += lf_comm_utf8(c->buf + n, ev->comm);
  c->off[L_ROLE] = (uint8_t)n;
  memcpy(c->buf + n, role, strlen(role));
  n += strlen(role);
  c->off[L_PEER] = (uint8_t)n;
  n += lf_fmt_ip(c->buf + n, ev->family, ev->daddr);
  c->off[L_PORT] = (uint8_t)n;
  n += lf_fmt_u64(c->buf + n, ev->role == LF_TCP_ROLE_SERVER ? ev->sport : ev->dport);
  c->off[L_N] = (uint8_t)n;
  /* FNV-1a over the values and their boundaries */
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)c->buf[i]) * 16777619u;
  for (int i = 0; i <= L_N; i++) h = (h ^ c->off[i]) * 16777619u;
  c->lhash = h;
}
