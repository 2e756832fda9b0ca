/**
 * One error type for every failure a user can act on. `code` is a literal union so callers (CLI, server)
 * can switch on it; the message says what was given, what was expected and what to do.
 * Every code is documented in ERROR_CODES (a test checks that each has a description and an HTTP status).
 */
export const ERROR_CODES = {
  BAD_ARGUMENT: { status: 400, description: 'An option or argument has an invalid value.' },
  FILE_NOT_FOUND: { status: 404, description: 'An input file or folder does not exist.' },
  FILE_EMPTY: { status: 400, description: 'An input file has no content.' },
  AUDIO_INVALID: { status: 400, description: 'The audio is corrupt, truncated or not audio at all.' },
  AUDIO_TRUNCATED: { status: 400, description: 'The audio file ends before the length its header declares, or ffmpeg reported decoding errors on it (pass --allow-truncated to use what is there).' },
  AUDIO_UNSUPPORTED: { status: 415, description: 'The audio format needs ffmpeg, which is not installed, or ffmpeg cannot read it.' },
  IMAGE_INVALID: { status: 400, description: 'The image is corrupt, empty or of an unsupported type.' },
  MODEL_UNKNOWN: { status: 404, description: 'The model reference is neither a local folder, a catalogue alias nor a hub repo id.' },
  MODEL_INVALID: { status: 422, description: 'The model files are missing pieces or do not have the expected inputs/outputs.' },
  MODEL_OFFLINE: { status: 503, description: 'Offline mode is on and model files are not in the cache.' },
  DOWNLOAD_FAILED: { status: 502, description: 'A model file could not be downloaded or failed verification.' },
  DEVICE_UNAVAILABLE: { status: 501, description: 'The requested execution provider (e.g. CUDA) is not available.' },
  TOKENIZER_INVALID: { status: 422, description: 'The tokenizer files are missing or malformed.' },
  CONFIG_INVALID: { status: 422, description: 'A model config is malformed or describes an unsupported architecture.' },
  OUTPUT_FAILED: { status: 500, description: 'An output file could not be written (folder not writable, disk full); nothing partial is left.' },
  UNAUTHORIZED: { status: 401, description: 'The server requires an API key: send Authorization: Bearer KEY.' },
  FORBIDDEN: { status: 403, description: 'The request is not allowed here (Host header not allowed, model or path not served).' },
  PAYLOAD_TOO_LARGE: { status: 413, description: 'The request body, an image\'s pixel count or an input is over its size limit.' },
  BUSY: { status: 429, description: 'The server is at its concurrency or rate limit; retry after the Retry-After seconds.' },
  TIMEOUT: { status: 503, description: 'The work did not finish within its time limit.' },
  INDEX_LOCKED: { status: 409, description: 'Another process is writing the index; wait for it to finish.' },
  UNAVAILABLE: { status: 503, description: 'A service moxing depends on (database, queue, index file) cannot be reached or opened.' },
  CONFLICT: { status: 409, description: 'The resource is not in the state this needs (a job\'s result asked for before the job has succeeded).' },
  NOT_FOUND: { status: 404, description: 'A requested resource (job, index entry) does not exist.' },
  INTERNAL: { status: 500, description: 'An unexpected failure inside moxing; please report it.' },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class MoxingError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MoxingError';
    this.code = code;
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

export function isMoxingError(error: unknown, code?: ErrorCode): error is MoxingError {
  return error instanceof MoxingError && (code === undefined || error.code === code);
}

/** `value` cut to `maxChars` (marked with …), control characters shown as ?. */
export function clipInput(value: string, maxChars = 80): string {
  const shown = value.length > maxChars ? `${value.slice(0, maxChars)}…` : value;
  return shown.replace(/[\u0000-\u001f\u007f]/g, '?');
}

/**
 * `value` in quotes for an error message, cut to `maxChars` with the length it had: an error may echo what
 * it was given, never a megabyte of it.
 */
export function quoteInput(value: string, maxChars = 80): string {
  return `"${clipInput(value, maxChars)}"${value.length > maxChars ? ` (${value.length} characters)` : ''}`;
}
