/**
 * Webhooks the Standard Webhooks way (standardwebhooks.com): each POST carries `webhook-id`,
 * `webhook-timestamp` (seconds) and `webhook-signature` = `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`
 * under the secret (`whsec_` + base64 of its bytes, as the `standardwebhooks` package reads it).
 *
 * SSRF: the host is resolved here, every address it resolves to must be public (not loopback, private,
 * link-local, unique-local, multicast, unspecified, reserved, nor such an IPv4 inside IPv6), and the socket
 * connects to the address that was checked: a second DNS answer cannot move it (no rebinding). Redirects are
 * not followed: a 3xx is a failed attempt.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { MoxingError, quoteInput } from '../errors.js';
import type { WebhookAttempt } from './types.js';

/** The secret's key bytes: `whsec_` (optional) then base64 of 16 to 64 bytes. */
export function webhookKey(secret: string): Buffer {
  const encoded = secret.startsWith('whsec_') ? secret.slice(6) : secret;
  const key = /^[A-Za-z0-9+/]+={0,2}$/.test(encoded) ? Buffer.from(encoded, 'base64') : Buffer.alloc(0);
  if (key.length < 16 || key.length > 64) throw new MoxingError('BAD_ARGUMENT', 'webhook_secret must be "whsec_" followed by base64 of 16 to 64 random bytes');
  return key;
}

/** The `webhook-signature` header value. */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  return `v1,${createHmac('sha256', webhookKey(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}

/** A webhook URL a request may give: http(s), no credentials, not too long. */
export function checkWebhookUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new MoxingError('BAD_ARGUMENT', `webhook_url ${quoteInput(text, 60)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new MoxingError('BAD_ARGUMENT', 'webhook_url must be http:// or https://');
  if (url.username || url.password) throw new MoxingError('BAD_ARGUMENT', 'webhook_url must not carry credentials; the signature authenticates the call');
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

/** The address to connect to for `url`: resolved once, every answer checked. */
export async function resolveWebhookAddress(url: URL, allowPrivate: boolean): Promise<{ address: string; family: 4 | 6 }> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const answers = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true, verbatim: true });
  if (answers.length === 0) throw new Error(`${host} does not resolve`);
  if (!allowPrivate) {
    const refused = answers.find((a) => !isPublicAddress(a.address));
    if (refused) throw new Error(`refused: ${host} resolves to a loopback, private or other non-public address (the server allows it only with --allow-private-webhooks)`);
  }
  return { address: answers[0].address, family: answers[0].family as 4 | 6 };
}

export interface WebhookMessage {
  readonly url: string;
  readonly secret: string;
  /** The `webhook-id`: the same on every retry of one message, so receivers can drop duplicates. */
  readonly messageId: string;
  readonly body: string;
}

export function newMessageId(): string {
  return `msg_${randomBytes(16).toString('base64url')}`;
}

/** One signed POST; never throws: the attempt says what happened. */
export async function postWebhook(message: WebhookMessage, options: { allowPrivate: boolean; timeoutMs: number }): Promise<WebhookAttempt> {
  const at = Date.now();
  const started = performance.now();
  const done = (outcome: { statusCode?: number; error?: string }): WebhookAttempt => ({ at, durationMs: Math.round(performance.now() - started), ...outcome });
  try {
    const url = new URL(message.url);
    const target = await resolveWebhookAddress(url, options.allowPrivate);
    const timestamp = Math.floor(Date.now() / 1000);
    // The connection goes to the checked address; Host and TLS still name the URL's host.
    const pinned: LookupFunction = (_host, lookupOptions, callback) => {
      if ((lookupOptions as { all?: boolean }).all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [target]);
      else callback(null, target.address, target.family);
    };
    const requestOptions: RequestOptions = {
      method: 'POST',
      lookup: pinned,
      timeout: options.timeoutMs,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'moxing-webhooks',
        'webhook-id': message.messageId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(message.secret, message.messageId, timestamp, message.body),
      },
    };
    const statusCode = await new Promise<number>((resolve, reject) => {
      const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, requestOptions, (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
        response.on('error', reject);
      });
      request.on('timeout', () => request.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
      request.on('error', reject);
      request.end(message.body);
    });
    if (statusCode >= 200 && statusCode < 300) return done({ statusCode });
    return done({ statusCode, error: statusCode >= 300 && statusCode < 400 ? `redirect ${statusCode} not followed` : `status ${statusCode}` });
  } catch (error) {
    return done({ error: (error as Error).message.slice(0, 300) });
  }
}

/** Delay before retry `attempt` (1 after the first failure): base × 2^(attempt-1), the upper half randomised. */
export function webhookDelayMs(attempt: number, baseMs: number, random: () => number = Math.random): number {
  const ceiling = baseMs * 2 ** Math.min(attempt - 1, 16);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
