/**
 * Image parts given as http(s) URLs, fetched by the server when its operator allows it (`moxing serve
 * --allow-remote-images`), then read as data URLs are: within the same count, byte and pixel limits.
 *
 * A request names the URL, so the fetch guards against server-side request forgery as webhooks do
 * (net/public-address.ts): only public addresses unless the operator also allowed private ones, the socket pinned
 * to the checked address, each redirect checked again (at most `maxRedirects`), no credentials in the URL, a
 * time limit on the whole fetch, and the body counted as it arrives (never more than `maxBytes` held). Nothing
 * of the answer but its status, length and type reaches an error message.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { MoxingError, quoteInput } from '../errors.js';
import { checkOutboundUrl, pinnedLookup, resolvePublicAddress } from '../net/public-address.js';
import type { ChatMessage, ContentPart } from './chat.js';
import { DEFAULT_IMAGE_LIMITS, imageUrls, type ImageLimits } from './image-parts.js';

export interface RemoteImageOptions {
  /** Also fetch from loopback, private and other non-public addresses (a LAN image server). @default false */
  readonly allowPrivate?: boolean;
  /** The whole fetch of one image, redirects included. @default 10_000 */
  readonly timeoutMs?: number;
  /** Redirects followed, each to an address checked as the first. @default 3 */
  readonly maxRedirects?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_REDIRECTS = 3;

const isRemote = (url: string) => /^https?:/i.test(url);

/** One GET to the checked address of `url`; the answer's head (its body not read yet). */
async function get(url: URL, options: RemoteImageOptions, signal: AbortSignal): Promise<IncomingMessage> {
  let target;
  try {
    target = await resolvePublicAddress(url, options.allowPrivate ?? false, '--allow-private-remote-images');
  } catch (cause) {
    if (cause instanceof MoxingError) throw cause;
    throw new MoxingError('BAD_ARGUMENT', `image URL host ${url.hostname} does not resolve`);
  }
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { lookup: pinnedLookup(target), signal, headers: { accept: 'image/*', 'user-agent': 'moxing' } }, resolve);
    request.on('error', reject);
    request.end();
  });
}

/** The body of `response`, at most `maxBytes`: refused from its Content-Length, or once more has arrived. */
async function body(response: IncomingMessage, maxBytes: number, what: string): Promise<Buffer> {
  const tooLarge = () => new MoxingError('PAYLOAD_TOO_LARGE', `${what} is more than the ${maxBytes}-byte limit for an image`);
  const declared = Number(response.headers['content-length']);
  if (declared > maxBytes) {
    response.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of response) {
    length += (chunk as Buffer).length;
    if (length > maxBytes) {
      response.destroy();
      throw tooLarge();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The bytes and content type of the image at `text` (see the module's comment). */
export async function fetchRemoteImage(text: string, maxBytes: number, options: RemoteImageOptions = {}): Promise<{ bytes: Buffer; type: string }> {
  const what = `the image at ${quoteInput(text, 80)}`;
  let url = checkOutboundUrl(text, 'an image URL');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    for (let redirects = 0; ; redirects++) {
      const response = await get(url, options, signal);
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (status >= 300 && status < 400 && location) {
        response.resume();
        if (redirects >= (options.maxRedirects ?? DEFAULT_REDIRECTS)) throw new MoxingError('BAD_ARGUMENT', `${what} redirects more than ${options.maxRedirects ?? DEFAULT_REDIRECTS} times`);
        url = checkOutboundUrl(new URL(location, url).href, `a redirect of ${what}`);
        continue;
      }
      if (status !== 200) {
        response.resume();
        throw new MoxingError('BAD_ARGUMENT', `${what} could not be fetched: HTTP ${status}`);
      }
      const type = String(response.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      if (!type.startsWith('image/')) {
        response.destroy();
        throw new MoxingError('IMAGE_INVALID', `${what} is ${type ? `of type ${quoteInput(type, 40)}` : 'of no declared type'}, not an image`);
      }
      return { bytes: await body(response, maxBytes, what), type };
    }
  } catch (cause) {
    if (cause instanceof MoxingError) throw cause;
    if (signal.aborted) throw new MoxingError('BAD_ARGUMENT', `${what} was not fetched within ${timeoutMs} ms`);
    // A socket error's code, not its message: that names the address it reached.
    throw new MoxingError('BAD_ARGUMENT', `${what} could not be fetched (${(cause as NodeJS.ErrnoException).code ?? 'connection failed'})`);
  }
}

/**
 * The messages with every http(s) image URL replaced by a data URL of the image it fetched, one at a time, after
 * checking the count against `limits.maxImages` (so that no request makes the server fetch more).
 */
export async function inlineRemoteImages(messages: readonly ChatMessage[], options: RemoteImageOptions = {}, limits: Readonly<ImageLimits> = DEFAULT_IMAGE_LIMITS): Promise<ChatMessage[]> {
  const urls = imageUrls(messages);
  if (!urls.some(isRemote)) return [...messages];
  if (urls.length > limits.maxImages) throw new MoxingError('BAD_ARGUMENT', `the conversation holds ${urls.length} images; at most ${limits.maxImages} are allowed per request`);
  const inlined = new Map<string, string>();
  for (const url of urls.filter(isRemote)) {
    if (inlined.has(url)) continue;
    const { bytes, type } = await fetchRemoteImage(url, limits.maxImageBytes, options);
    inlined.set(url, `data:${type};base64,${bytes.toString('base64')}`);
  }
  const part = (p: ContentPart): ContentPart => (p.type === 'image_url' && inlined.has(p.image_url.url) ? { ...p, image_url: { ...p.image_url, url: inlined.get(p.image_url.url) as string } } : p);
  return messages.map((m) => (Array.isArray(m.content) ? ({ ...m, content: m.content.map(part) } as ChatMessage) : m));
}
