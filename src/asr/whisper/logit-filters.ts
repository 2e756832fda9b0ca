/**
 * Whisper's logit rules (openai/whisper `decoding.py`: SuppressBlank, SuppressTokens, ApplyTimestampRules).
 * A filter edits the logits of one row in place, given that row's tokens so far (initial tokens included).
 */
import { expSum, rowMax } from './logits.js';

/**
 * @param logits one row's logits [vocab], edited in place
 * @param tokens every token of the row so far, the initial (SOT, prompt) tokens included
 */
export type LogitFilter = (logits: Float32Array, tokens: readonly number[]) => void;

/** At the first sampled position, forbids a blank (the space token) and an immediate end of text. */
export function suppressBlank(blankTokens: readonly number[], eot: number, sampleBegin: number): LogitFilter {
  const ids = [...blankTokens, eot];
  return (logits, tokens) => {
    if (tokens.length !== sampleBegin) return;
    for (const id of ids) logits[id] = -Infinity;
  };
}

/** Forbids a fixed set of tokens at every position. */
export function suppressTokens(ids: readonly number[]): LogitFilter {
  const list = Int32Array.from(ids);
  return (logits) => {
    for (let i = 0; i < list.length; i++) logits[list[i]] = -Infinity;
  };
}

export interface TimestampRuleTokens {
  readonly eot: number;
  readonly noTimestamps: number;
  /** Id of `<|0.00|>`; every id from it up is a timestamp. */
  readonly timestampBegin: number;
}

/**
 * openai's ApplyTimestampRules: timestamps come in pairs (except right before EOT), never decrease, and
 * a segment has a non-zero length; the first sampled token is a timestamp no later than
 * `maxInitialTimestampIndex` steps; and when the timestamps together are more probable than any single
 * text token, a timestamp is forced.
 */
export function applyTimestampRules(
  special: TimestampRuleTokens,
  sampleBegin: number,
  maxInitialTimestampIndex: number | undefined,
): LogitFilter {
  const { eot, noTimestamps, timestampBegin: tb } = special;
  return (logits, tokens) => {
    const vocab = logits.length;
    logits[noTimestamps] = -Infinity;

    const sampled = tokens.length - sampleBegin;
    const last = sampled >= 1 ? tokens[tokens.length - 1] : -1;
    const lastWasTimestamp = sampled >= 1 && last >= tb;
    const penultimateWasTimestamp = sampled < 2 || tokens[tokens.length - 2] >= tb;
    if (lastWasTimestamp) {
      if (penultimateWasTimestamp) logits.fill(-Infinity, tb, vocab); // has to be a non-timestamp
      else logits.fill(-Infinity, 0, eot); // cannot be normal text
    }

    let lastTimestamp = -1;
    for (let i = tokens.length - 1; i >= sampleBegin; i--) {
      if (tokens[i] >= tb) {
        lastTimestamp = tokens[i];
        break;
      }
    }
    if (lastTimestamp >= 0) {
      // Timestamps must not decrease; after a closed pair the next one must also move forward.
      const upTo = lastWasTimestamp && !penultimateWasTimestamp ? lastTimestamp : lastTimestamp + 1;
      logits.fill(-Infinity, tb, Math.min(upTo, vocab));
    }

    if (sampled === 0) {
      logits.fill(-Infinity, 0, tb);
      if (maxInitialTimestampIndex !== undefined) logits.fill(-Infinity, Math.min(tb + maxInitialTimestampIndex + 1, vocab), vocab);
    }

    // log-softmax shares one normaliser, so comparing logsumexp(timestamps) with max(text) on raw
    // logits decides exactly as openai's comparison of log-probabilities does.
    const maxText = rowMax(logits, 0, tb);
    const maxTs = rowMax(logits, tb, vocab);
    if (maxTs === -Infinity) return;
    const timestampLogsumexp = maxTs + Math.log(expSum(logits.subarray(tb), maxTs));
    if (timestampLogsumexp > maxText) logits.fill(-Infinity, 0, tb);
  };
}
