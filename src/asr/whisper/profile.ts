/**
 * Where a decode's time goes, per phase of the token loop (`npm run bench:whisper -- --profile`). Off by
 * default: the loop then pays one undefined check per phase. Timings are wall milliseconds summed over
 * every step of every decode while a profile is active.
 */
export interface DecodeProfile {
  /** ONNX Runtime `run` of the cached steps. */
  ortMs: number;
  /** Feeds, the present KV kept for the next step, row reorders: everything of a step around `run`. */
  kvMs: number;
  /** suppressBlank and suppressTokens. */
  suppressMs: number;
  /** ApplyTimestampRules. */
  timestampMs: number;
  /** Token choice and its log-probability (GreedyDecoder / BeamSearchDecoder `update`). */
  samplingMs: number;
  /** The rest of the loop: live rows, end checks. */
  bookkeepingMs: number;
  /** Cached steps run (one per loop iteration after the first, whatever the rows). */
  steps: number;
  /** Tokens chosen (rows summed over steps). */
  tokens: number;
  /** First passes: the prompt prefill and the cross-attention K/V of each window, language detection included. */
  prefillMs: number;
  prefills: number;
  /** Tokens fed to first passes (rows × initial tokens). */
  prefillTokens: number;
}

export function emptyDecodeProfile(): DecodeProfile {
  return { ortMs: 0, kvMs: 0, suppressMs: 0, timestampMs: 0, samplingMs: 0, bookkeepingMs: 0, steps: 0, tokens: 0, prefillMs: 0, prefills: 0, prefillTokens: 0 };
}

let active: DecodeProfile | undefined;

/** The profile decodes add to now, if any. */
export function activeDecodeProfile(): DecodeProfile | undefined {
  return active;
}

/** Starts adding every decode's phases to `profile` (undefined stops). */
export function setDecodeProfile(profile: DecodeProfile | undefined): void {
  active = profile;
}
