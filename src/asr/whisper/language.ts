/**
 * Spoken-language identification as openai/whisper `detect_language`: one decoder pass over the single
 * token SOT, every non-language logit masked, and the softmax over all of the model's language tokens.
 */
import { MoxingError } from '../../errors.js';
import type { DecoderRunner } from './decoder-runner.js';

export interface LanguageTokenId {
  readonly code: string;
  readonly id: number;
}

export interface LanguageDetection {
  /** Code of the most probable language. */
  readonly language: string;
  readonly token: number;
  /** Probability of every language the model knows, code -> p (sums to 1). */
  readonly probabilities: Readonly<Record<string, number>>;
}

/**
 * Detects the language of each audio of `runner` (one row per audio, not yet prefilled).
 * @param languages every language token of the model, in id order
 */
export async function detectLanguage(runner: DecoderRunner, sot: number, languages: readonly LanguageTokenId[]): Promise<LanguageDetection[]> {
  if (languages.length === 0) {
    throw new MoxingError('BAD_ARGUMENT', "this model has no language tokens (an English-only .en model), so it can't detect the language; omit language detection or use a multilingual model");
  }
  const rows = runner.rows;
  const { last } = await runner.prefill(Array.from({ length: rows }, () => [sot])).finally(() => runner.release?.());
  const vocab = runner.vocabSize;
  const results: LanguageDetection[] = [];
  for (let r = 0; r < rows; r++) {
    const logits = last.subarray(r * vocab, (r + 1) * vocab);
    let best = 0;
    let max = -Infinity;
    languages.forEach((l, i) => {
      if (logits[l.id] > max) {
        max = logits[l.id];
        best = i;
      }
    });
    let sum = 0;
    for (const l of languages) sum += Math.exp(logits[l.id] - max);
    const probabilities: Record<string, number> = {};
    for (const l of languages) probabilities[l.code] = Math.exp(logits[l.id] - max) / sum;
    results.push({ language: languages[best].code, token: languages[best].id, probabilities: Object.freeze(probabilities) });
  }
  return results;
}
