/**
 * One file from the hub into the cache: follows the hub's redirects to its CDN (the token goes only to the
 * endpoint's origin), resumes a partial `.incomplete` file with a Range request, retries dropped connections and
 * 5xx answers with backoff, checks size and sha256 where the hub gives them, and renames into place atomically.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MoxingError } from '../errors.js';
import { fileSize, INCOMPLETE_SUFFIX } from './cache.js';
import { hubFetch } from './http.js';
import { exclusive } from './lock.js';
import { resolveHubOptions, type DownloadProgress, type HubOptions } from './options.js';

export interface DownloadFileOptions extends Partial<HubOptions> {
  /** Size in bytes the file must have (from a repo listing); the server's headers are used when absent. */
  expectedBytes?: number;
  /** Hex sha256 the file must have; the hub's LFS etag is used when absent. */
  expectedSha256?: string;
  /** Position of this file in a multi-file fetch, for progress reports. @default 0 of 1 */
  fileIndex?: number;
  fileCount?: number;
}

export interface DownloadedFile {
  readonly path: string;
  readonly bytes: number;
  /** sha256 of the file as written; undefined when the file was already complete at `dest`. */
  readonly sha256: string | undefined;
  /** Whether it was checked against a sha256 from the caller or the hub. */
  readonly verified: boolean;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The URL of `path` in `repo` at `revision` under the hub's resolve route. */
export function resolveUrl(endpoint: string, repo: string, revision: string, path: string): string {
  const encodedPath = path.split('/').map(encodeURIComponent).join('/');
  return `${endpoint.replace(/\/+$/, '')}/${repo}/resolve/${encodeURIComponent(revision)}/${encodedPath}`;
}

/** Downloads `path` of `repo` (at options.revision) to `dest`; a complete file already at `dest` is kept. */
export async function downloadFile(repo: string, path: string, dest: string, options: DownloadFileOptions = {}): Promise<DownloadedFile> {
  const hub = resolveHubOptions(options);
  if (hub.offline) {
    throw new MoxingError('MODEL_OFFLINE', `offline mode is on (MOXING_OFFLINE or HF_HUB_OFFLINE), so ${repo}/${path} cannot be downloaded; unset it and run \`moxing pull ${repo}\``);
  }
  return downloadUrl(resolveUrl(hub.endpoint, repo, hub.revision, path), dest, { ...options, ...hub }, path);
}

/** A failure worth another attempt (the connection, the server), as opposed to a definite answer. */
class TransientError extends Error {}

function downloadUrl(url: string, dest: string, options: DownloadFileOptions & HubOptions, label = url): Promise<DownloadedFile> {
  return exclusive(dest, async () => {
    // Another process may have finished this file while we waited for its lock.
    const done = await fileSize(dest);
    if (done !== undefined && (options.expectedBytes === undefined || done === options.expectedBytes)) {
      return { path: dest, bytes: done, sha256: undefined, verified: false };
    }
    return download(url, dest, options, label);
  });
}

async function download(url: string, dest: string, options: DownloadFileOptions & HubOptions, label: string): Promise<DownloadedFile> {
  const partial = dest + INCOMPLETE_SUFFIX;
  await mkdir(dirname(dest), { recursive: true });
  let lastError: unknown;
  for (let attempt = 1; attempt <= options.maxAttempts; attempt++) {
    try {
      return await attemptDownload(url, dest, partial, options, label);
    } catch (error) {
      if (!(error instanceof TransientError)) throw error;
      lastError = error;
      if (attempt < options.maxAttempts) await sleep(options.retryDelayMs * 2 ** (attempt - 1));
    }
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  const kept = (await fileSize(partial)) ?? 0;
  const resume = kept > 0 ? `; the ${kept} bytes received are kept and the next try resumes from them` : '';
  throw new MoxingError(
    'DOWNLOAD_FAILED',
    `could not download ${url} after ${options.maxAttempts} attempts (${reason})${resume}. Check the network or HF_ENDPOINT, or set MOXING_OFFLINE=1 to use cached files only`,
    { cause: lastError },
  );
}

interface Answer {
  readonly response: Response;
  /** sha256 and size announced by the hub on the first hop (LFS files), before the CDN redirect. */
  readonly linkedSha256: string | undefined;
  readonly linkedBytes: number | undefined;
}

function etagSha256(value: string | null): string | undefined {
  if (!value) return undefined;
  const tag = value.replace(/^W\//, '').replace(/"/g, '').trim().toLowerCase();
  return SHA256_HEX.test(tag) ? tag : undefined;
}

/** The resolve URL through its redirects; the token stays on the endpoint's origin (see hubFetch). */
async function request(url: string, headers: Record<string, string>, hub: HubOptions, signal: AbortSignal): Promise<Answer> {
  let linkedSha256: string | undefined;
  let linkedBytes: number | undefined;
  const onResponse = (response: Response): void => {
    linkedSha256 ??= etagSha256(response.headers.get('x-linked-etag'));
    const linkedSize = Number(response.headers.get('x-linked-size') ?? NaN);
    if (linkedBytes === undefined && Number.isSafeInteger(linkedSize) && linkedSize >= 0) linkedBytes = linkedSize;
  };
  let response: Response;
  try {
    // identity: a compressed body would not match Content-Length, the hub's sizes or a byte Range.
    response = await hubFetch(url, { endpoint: hub.endpoint, token: hub.token, headers: { ...headers, 'accept-encoding': 'identity' }, signal, onResponse });
  } catch (error) {
    if (error instanceof MoxingError) throw error;
    // A host name that does not exist will not exist on the next try either (EAI_AGAIN is the passing kind).
    if (errorCode(error) === 'ENOTFOUND') {
      throw new MoxingError('DOWNLOAD_FAILED', `cannot reach ${new URL(url).host}: the host name does not resolve. Check the network, or HF_ENDPOINT if you use a mirror, or set MOXING_OFFLINE=1 to use cached files only`, { cause: error });
    }
    throw new TransientError(`request failed: ${describe(error)}`, { cause: error });
  }
  return { response, linkedSha256: linkedSha256 ?? etagSha256(response.headers.get('etag')), linkedBytes };
}

/** The system error code of a fetch failure (undici wraps it as the cause). */
function errorCode(error: unknown): string | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code;
  }
  return undefined;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

/**
 * A definite HTTP answer from the hub (or its CDN) to `url`. Callers tell a missing file by `httpStatus`,
 * never by the message, whose wording (and any number in it) is for people.
 */
export class HubHttpError extends MoxingError {
  readonly url: string;
  readonly httpStatus: number;
  constructor(url: string, httpStatus: number, message: string) {
    super('DOWNLOAD_FAILED', message);
    this.url = url;
    this.httpStatus = httpStatus;
  }
}

/** Whether `error` is the hub's 404 (no such repo, revision or file), for `url` when given. */
export function isNotFound(error: unknown, url?: string): boolean {
  return error instanceof HubHttpError && error.httpStatus === 404 && (url === undefined || error.url === url);
}

/**
 * The hub says why in `x-error-code`: RepoNotFound (sent as 401 to anonymous callers, so as not to reveal
 * private repos), GatedRepo, RevisionNotFound, EntryNotFound.
 */
export function httpFailure(url: string, status: number, statusText: string, token: string | undefined, errorCode: string | null): Error {
  const head = `${url} answered ${status}${statusText ? ` ${statusText}` : ''}`;
  const fail = (message: string): HubHttpError => new HubHttpError(url, status, message);
  const tokenFix = token
    ? 'HF_TOKEN is set but was refused: check that it is valid and that your account has accepted the model\'s terms'
    : 'if the repo is gated or private, accept its terms on the hub and set HF_TOKEN to an access token';
  switch (errorCode) {
    case 'RepoNotFound':
      return fail(`${head}: no such repository; check the model name (${tokenFix})`);
    case 'GatedRepo':
      return fail(`${head}: the repo is gated; ${token ? tokenFix : 'accept its terms on the hub and set HF_TOKEN to an access token'}`);
    case 'RevisionNotFound':
      return fail(`${head}: no such revision; check the @revision or --revision`);
    case 'EntryNotFound':
      return fail(`${head}: the repo has no such file; check --variant and the model's file list`);
  }
  if (status === 401 || status === 403) return fail(`${head}; the repo may not exist, or ${tokenFix}`);
  if (status === 404) {
    return fail(`${head}: the repo, revision or file does not exist there; check the model name and --variant (and HF_ENDPOINT if you use a mirror)`);
  }
  if (status === 408 || status === 429 || status >= 500) return new TransientError(head);
  return fail(head);
}

async function hashPrefix(path: string, bytes: number): Promise<Hash> {
  const hash = createHash('sha256');
  if (bytes === 0) return hash;
  for await (const chunk of createReadStream(path, { start: 0, end: bytes - 1 })) hash.update(chunk as Buffer);
  return hash;
}

async function attemptDownload(url: string, dest: string, partial: string, o: DownloadFileOptions & HubOptions, label: string): Promise<DownloadedFile> {
  let offset = (await fileSize(partial)) ?? 0;
  if (o.expectedBytes !== undefined && offset > o.expectedBytes) {
    await rm(partial, { force: true });
    offset = 0;
  }
  const controller = new AbortController();
  let idle: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => controller.abort(new Error(`no data for ${o.idleTimeoutMs} ms`)), o.idleTimeoutMs);
  };
  arm();
  try {
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    const { response, linkedSha256, linkedBytes } = await request(url, headers, o, controller.signal);

    const expectedSha256 = o.expectedSha256?.toLowerCase() ?? linkedSha256;
    if (response.status === 416 && offset > 0) {
      // The range starts at or past the end: either the partial file is already whole, or the file changed.
      await response.body?.cancel();
      const total = o.expectedBytes ?? linkedBytes ?? contentRangeTotal(response.headers.get('content-range'));
      if (total === offset) return await finish(partial, dest, offset, await hashPrefix(partial, offset), expectedSha256, url, label);
      await rm(partial, { force: true });
      throw new TransientError('the server refused to resume the partial file; starting over');
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw httpFailure(url, response.status, response.statusText, o.token, response.headers.get('x-error-code'));
    }

    let append = false;
    if (response.status === 206) {
      const start = contentRangeStart(response.headers.get('content-range'));
      if (start !== offset) {
        await response.body?.cancel();
        await rm(partial, { force: true });
        throw new TransientError(`the server resumed at byte ${start}, not ${offset}; starting over`);
      }
      append = true;
    } else {
      offset = 0; // a 200 answers a Range request with the whole file: start the partial file again
    }
    const length = Number(response.headers.get('content-length') ?? NaN);
    const total =
      o.expectedBytes ??
      (response.status === 206 ? contentRangeTotal(response.headers.get('content-range')) : Number.isSafeInteger(length) ? length : undefined) ??
      linkedBytes;

    if (total !== undefined && total > o.maxFileBytes) {
      await response.body?.cancel();
      await rm(partial, { force: true });
      throw tooLarge(label, o.maxFileBytes);
    }

    const hash = append ? await hashPrefix(partial, offset) : createHash('sha256');
    const file = await open(partial, append ? 'a' : 'w');
    let done = offset;
    let discard = false;
    const report = (): void => {
      const p: DownloadProgress = { file: label, bytesDone: done, bytesTotal: total, fileIndex: o.fileIndex ?? 0, fileCount: o.fileCount ?? 1 };
      o.onProgress?.(p);
    };
    report();
    try {
      if (!response.body) throw new TransientError('the response has no body');
      for await (const chunk of response.body) {
        arm();
        if (done + chunk.byteLength > o.maxFileBytes) throw tooLarge(label, o.maxFileBytes);
        await file.write(chunk);
        hash.update(chunk);
        done += chunk.byteLength;
        report();
      }
    } catch (error) {
      if (error instanceof TransientError) throw error;
      if (error instanceof MoxingError) {
        discard = true; // over the size cap: nothing worth resuming
        throw error;
      }
      // A dropped connection or an idle timeout: keep what arrived, the next attempt resumes from it.
      throw new TransientError(`the connection dropped at byte ${done}${total ? ` of ${total}` : ''}: ${describe(controller.signal.aborted ? controller.signal.reason : error)}`, { cause: error });
    } finally {
      await file.close();
      if (discard) await rm(partial, { force: true });
    }
    if (total !== undefined && done < total) throw new TransientError(`the connection closed at byte ${done} of ${total}`);
    if (total !== undefined && done > total) {
      await rm(partial, { force: true });
      throw new MoxingError('DOWNLOAD_FAILED', `${url} sent ${done} bytes where ${total} were expected; the file was discarded`);
    }
    return await finish(partial, dest, done, hash, expectedSha256, url, label);
  } finally {
    clearTimeout(idle);
  }
}

async function finish(partial: string, dest: string, bytes: number, hash: Hash, expectedSha256: string | undefined, url: string, label: string): Promise<DownloadedFile> {
  const sha256 = hash.digest('hex');
  if (expectedSha256 !== undefined && sha256 !== expectedSha256) {
    await rm(partial, { force: true });
    throw new MoxingError('DOWNLOAD_FAILED', `${label} from ${url} failed its sha256 check (got ${sha256}, the hub says ${expectedSha256}); the file was discarded, run the command again`);
  }
  await rename(partial, dest);
  return { path: dest, bytes, sha256, verified: expectedSha256 !== undefined };
}

function tooLarge(label: string, maxBytes: number): MoxingError {
  return new MoxingError('PAYLOAD_TOO_LARGE', `${label} is larger than the ${maxBytes}-byte limit for downloads here; nothing was kept`);
}

function contentRangeStart(header: string | null): number | undefined {
  const m = header?.match(/bytes\s+(\d+)-/);
  return m ? Number(m[1]) : undefined;
}

function contentRangeTotal(header: string | null): number | undefined {
  const m = header?.match(/\/(\d+)\s*$/);
  return m ? Number(m[1]) : undefined;
}
