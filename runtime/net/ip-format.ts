/** Text forms of the raw 16-byte addresses probes emit. */

export const AF_INET = 2;
export const AF_INET6 = 10;

function ipv4(b: Uint8Array, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** RFC 5952 text: lower case, longest zero run (≥2 groups) compressed, v4-mapped as plain IPv4. */
function ipv6(b: Uint8Array): string {
  const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  if (mapped) return ipv4(b, 12);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i] << 8) | b[i + 1]);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function formatIp(family: number, addr: Uint8Array): string {
  if (family === AF_INET) return ipv4(addr, 0);
  if (family === AF_INET6) return ipv6(addr);
  return `unknown-family-${family}`;
}

/** `addr:port`, with brackets for IPv6 as in URLs. */
export function formatEndpoint(family: number, addr: Uint8Array, port: number): string {
  const ip = formatIp(family, addr);
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
