/**
 * Webhooks the Standard Webhooks way (standardwebhooks.com): each POST carries `webhook-id`,
 * `webhook-timestamp` (seconds) and `webhook-signature` = `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`
 * under the secret (`whsec_` + base64 of its bytes, as the `standardwebhooks` package reads it).
 *
 * SSRF: the address is checked and pinned as net/public-address.ts does (every address the host resolves to must
 * be public unless --allow-private-webhooks). Redirects are not followed: a 3xx is a failed attempt.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { MoxingError } from '../errors.js';
import { checkOutboundUrl, pinnedLookup, resolvePublicAddress, type CheckedAddress } from '../net/public-address.js';
import type { WebhookAttempt } from './types.js';

export { isPublicAddress } from '../net/public-address.js';

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

/** A webhook URL a request may give: http(s), no credentials (the signature authenticates the call). */
export function checkWebhookUrl(text: string): URL {
  return checkOutboundUrl(text, 'webhook_url');
}

/** The address to connect to for `url`: resolved once, every answer checked. */
export function resolveWebhookAddress(url: URL, allowPrivate: boolean): Promise<CheckedAddress> {
  return resolvePublicAddress(url, allowPrivate, '--allow-private-webhooks');
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
    const requestOptions: RequestOptions = {
      method: 'POST',
      lookup: pinnedLookup(target),
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
