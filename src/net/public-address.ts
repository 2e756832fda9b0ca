/**
 * Outbound connections to addresses a request named (webhooks, remote images) without server-side request
 * forgery: the host is resolved here, every address it resolves to must be public (not loopback, private,
 * link-local, unique-local, multicast, unspecified, reserved, nor such an IPv4 inside IPv6) unless the operator
 * allowed private ones, and the socket connects to the address that was checked (`pinnedLookup`): a second DNS
 * answer cannot move it (no rebinding).
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { MoxingError, quoteInput } from '../errors.js';

/** A URL a request gave for the server to reach (`what` names it in errors): http(s), no credentials. */
export function checkOutboundUrl(text: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new MoxingError('BAD_ARGUMENT', `${what} ${quoteInput(text, 80)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new MoxingError('BAD_ARGUMENT', `${what} must be http:// or https://, not ${url.protocol}`);
  if (url.username || url.password) throw new MoxingError('BAD_ARGUMENT', `${what} must not carry credentials`);
  return url;
}

/** Every range that is not the public internet. */
const NOT_PUBLIC = (() => {
  const list = new BlockList();
  for (const [net, bits] of [
    ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.0.0.0', 24],
    ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
  ] as const) list.addSubnet(net, bits, 'ipv4');
  for (const [net, bits] of [
    ['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8], ['2001:db8::', 32], ['100::', 64], ['2001::', 23],
  ] as const) list.addSubnet(net, bits, 'ipv6');
  return list;
})();

/** Whether `address` (an IP literal) is a public unicast address. IPv4 inside IPv6 is judged as the IPv4. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return !NOT_PUBLIC.check(address, 'ipv4');
  if (family !== 6) return false;
  const embedded = embeddedIpv4(address);
  if (embedded !== undefined) return !NOT_PUBLIC.check(embedded, 'ipv4');
  return !NOT_PUBLIC.check(address, 'ipv6');
}

/** The IPv4 inside an IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) or NAT64 (64:ff9b::/96) IPv6. */
function embeddedIpv4(address: string): string | undefined {
  const groups = expandIpv6(address);
  const zeroPrefix = groups.slice(0, 5).every((g) => g === 0);
  const mapped = zeroPrefix && (groups[5] === 0xffff || groups[5] === 0);
  const nat64 = groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((g) => g === 0);
  // ::1 and :: are IPv6's own loopback and unspecified, not IPv4.
  if (!mapped && !nat64) return undefined;
  if (groups[5] === 0 && !nat64 && groups[6] === 0) return undefined;
  return [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join('.');
}

function expandIpv6(address: string): number[] {
  let text = address.toLowerCase().split('%')[0];
  const v4 = text.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4) {
    const [a, b, c, d] = v4[1].split('.').map(Number);
    text = `${text.slice(0, -v4[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const parse = (s: string | undefined): number[] => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const left = parse(head);
  const right = parse(tail);
  return tail === undefined ? left : [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** An address to connect to. */
export interface CheckedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/**
 * The address to connect to for `url`: resolved once, every answer checked. A non-public address is FORBIDDEN
 * (`allowedBy` names the setting that would allow it); a host that does not resolve throws the lookup's error.
 */
export async function resolvePublicAddress(url: URL, allowPrivate: boolean, allowedBy: string): Promise<CheckedAddress> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const answers = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true, verbatim: true });
  if (answers.length === 0) throw new Error(`${host} does not resolve`);
  if (!allowPrivate) {
    const refused = answers.find((a) => !isPublicAddress(a.address));
    if (refused) throw new MoxingError('FORBIDDEN', `refused: ${host} resolves to a loopback, private or other non-public address (the server allows it only with ${allowedBy})`);
  }
  return { address: answers[0].address, family: answers[0].family as 4 | 6 };
}

/** A `lookup` for http(s).request that answers `target` whatever the host: the connection goes to the checked address, while Host and TLS still name the URL's host. */
export function pinnedLookup(target: CheckedAddress): LookupFunction {
  return (_host, lookupOptions, callback) => {
    if ((lookupOptions as { all?: boolean }).all) (callback as unknown as (e: null, a: CheckedAddress[]) => void)(null, [target]);
    else callback(null, target.address, target.family);
  };
}
