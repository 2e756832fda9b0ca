/**
 * Requests to the hub with the token kept at home: the Authorization header goes only to the configured
 * endpoint's origin (scheme, host and port), never to a host that a redirect (the hub's CDN) or a
 * pagination `Link` points at. Redirects are followed by hand, since fetch's own following would decide
 * on its own which headers travel.
 */
import { MoxingError } from '../errors.js';

const MAX_REDIRECTS = 10;

export interface HubFetchOptions {
  /** The hub base URL (HubOptions.endpoint): the only origin that gets the token. */
  readonly endpoint: string;
  readonly token: string | undefined;
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  /** Sees every response, redirects included (the hub announces LFS sizes and hashes on the first hop). */
  readonly onResponse?: (response: Response) => void;
}

/** Whether `url` is on the endpoint's origin, so that it may receive the token. */
export function sameOrigin(url: string | URL, endpoint: string): boolean {
  return new URL(url).origin === new URL(endpoint).origin;
}

/**
 * GET `url`, following redirects; the token is sent on each hop only while that hop is on the endpoint's
 * origin. Network failures reject as fetch's do; more than 10 redirects is DOWNLOAD_FAILED.
 */
export async function hubFetch(url: string, options: HubFetchOptions): Promise<Response> {
  let current = new URL(url);
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const headers: Record<string, string> = { ...options.headers, 'user-agent': 'moxing' };
    if (options.token && sameOrigin(current, options.endpoint)) headers.authorization = `Bearer ${options.token}`;
    const response = await fetch(current, { headers, redirect: 'manual', ...(options.signal ? { signal: options.signal } : {}) });
    options.onResponse?.(response);
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      current = new URL(location, current);
      continue;
    }
    return response;
  }
  throw new MoxingError('DOWNLOAD_FAILED', `${url} redirected more than ${MAX_REDIRECTS} times; check HF_ENDPOINT`);
}
