import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatEndpoint, formatIp } from '../../runtime/net/ip-format';

const v6 = (hex: string): Uint8Array => Buffer.from(hex.replace(/:/g, ''), 'hex');

test('IPv4 and IPv6 text forms follow RFC 5952', () => {
  assert.equal(formatIp(2, Uint8Array.from([10, 0, 0, 1, 9, 9])), '10.0.0.1');
  assert.equal(formatIp(10, v6('0000:0000:0000:0000:0000:0000:0000:0001')), '::1');
  assert.equal(formatIp(10, v6('2001:0db8:0000:0000:0001:0000:0000:0001')), '2001:db8::1:0:0:1');
  assert.equal(formatIp(10, v6('2001:0db8:0000:0001:0001:0001:0001:0001')), '2001:db8:0:1:1:1:1:1');
  assert.equal(formatIp(10, v6('0000:0000:0000:0000:0000:0000:0000:0000')), '::');
  assert.equal(formatIp(10, v6('0000:0000:0000:0000:0000:ffff:7f00:0001')), '127.0.0.1');
  assert.equal(formatIp(7, new Uint8Array(16)), 'unknown-family-7');
});

test('endpoints bracket IPv6', () => {
  assert.equal(formatEndpoint(2, Uint8Array.from([127, 0, 0, 1]), 80), '127.0.0.1:80');
  assert.equal(formatEndpoint(10, v6('00000000000000000000000000000001'), 443), '[::1]:443');
});
