/**
 * Where models come from and where they are kept. Every field can be given in code; the defaults read the
 * same environment variables the Hugging Face tools read, so mirrors, tokens and offline mode work unchanged.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { definedOnly } from '../defaults.js';

export interface DownloadProgress {
  /** Repo-relative path of the file being fetched. */
  readonly file: string;
  /** Bytes of this file on disk so far, including a resumed prefix. */
  readonly bytesDone: number;
  /** Expected size of this file in bytes, or undefined when the server does not say. */
  readonly bytesTotal: number | undefined;
  /** 0-based index of this file among those being fetched by the current call, and their count. */
  readonly fileIndex: number;
  readonly fileCount: number;
}

export interface HubOptions {
  /** Cache root; models live under `<cacheDir>/models/<owner>--<name>/<revision>/`. @default $MOXING_CACHE or ~/.cache/moxing */
  cacheDir: string;
  /** Hub base URL. @default $HF_ENDPOINT or https://huggingface.co */
  endpoint: string;
  /** Bearer token for gated or private repos. @default $HF_TOKEN (or $HUGGING_FACE_HUB_TOKEN) */
  token: string | undefined;
  /** Never touch the network; fail with MODEL_OFFLINE when files are missing. @default $MOXING_OFFLINE=1 or $HF_HUB_OFFLINE=1 */
  offline: boolean;
  /** Branch, tag or commit when the reference does not name one (`owner/name@rev`). @default 'main' */
  revision: string;
  /** Attempts per file for transient failures (dropped connections, 5xx); each retry resumes. @default 4 */
  maxAttempts: number;
  /** First retry delay; doubles each retry. @default 500 */
  retryDelayMs: number;
  /** Give up on a request that sends nothing for this long. @default 60000 */
  idleTimeoutMs: number;
  /** Refuse any one file larger than this (a server resolving request-given models caps it). @default Infinity */
  maxFileBytes: number;
  /** Called as bytes arrive (throttled by the caller if needed). */
  onProgress: ((progress: DownloadProgress) => void) | undefined;
}

export const DEFAULT_HUB: Readonly<Omit<HubOptions, 'cacheDir' | 'endpoint' | 'token' | 'offline'>> = Object.freeze({
  revision: 'main',
  maxAttempts: 4,
  retryDelayMs: 500,
  idleTimeoutMs: 60_000,
  maxFileBytes: Number.POSITIVE_INFINITY,
  onProgress: undefined,
});

const TRUE_VALUES = new Set(['1', 'true', 'yes', 'on']);

function envFlag(value: string | undefined): boolean {
  return value !== undefined && TRUE_VALUES.has(value.trim().toLowerCase());
}

/** Defaults from the environment, then `options` over them. Read once per call so tests can change env. */
export function resolveHubOptions(options: Partial<HubOptions> = {}, env: NodeJS.ProcessEnv = process.env): HubOptions {
  const cacheDir = options.cacheDir ?? (env.MOXING_CACHE ? resolve(env.MOXING_CACHE) : join(homedir(), '.cache', 'moxing'));
  const endpoint = (options.endpoint ?? (env.HF_ENDPOINT || 'https://huggingface.co')).replace(/\/+$/, '');
  const token = options.token ?? (env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || undefined);
  const offline = options.offline ?? (envFlag(env.MOXING_OFFLINE) || envFlag(env.HF_HUB_OFFLINE));
  return {
    ...DEFAULT_HUB,
    ...definedOnly(options),
    cacheDir,
    endpoint,
    token,
    offline,
  };
}
