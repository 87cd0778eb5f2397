/** Names of the kernel's TCP states (include/net/tcp_states.h). */
const NAMES = [
  'UNKNOWN', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT',
  'CLOSE', 'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING', 'NEW_SYN_RECV', 'BOUND_INACTIVE',
];

export function tcpStateName(state: number): string {
  return NAMES[state] ?? `STATE_${state}`;
}
