/* The label values of a connection (the text forms come from the SDK's
 * lf_net_fmt.h, shared with the http2 decoder so their lines agree). */
#include "tcp_decoder.h"

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
