/**
 * `transcribe()` for any speech model: the model's kind decides the engine (a CTC export is recognised with
 * greedy CTC, everything else is a Whisper), and `align` adds WhisperX's forced alignment on top. What the
 * CLI's `transcribe --model ... --align` does, one library call away.
 */
import { decodeAudio } from '../audio/index.js';
import { MoxingError } from '../errors.js';
import { alignTranscript, isCtcModelRef, loadAligner, loadCtc, recognizeCtc } from './ctc/index.js';
import type { TranscriptionResult } from './types.js';
import { DEFAULT_TRANSCRIBE, transcribe as transcribeWhisper, type BatchedOptions, type TranscribeInput, type TranscribeOptions } from './whisper/index.js';

export interface SpeechOptions extends TranscribeOptions, BatchedOptions {
  /**
   * Align every segment's words with a wav2vec2 CTC model, as WhisperX: `true` for the default aligner of the
   * result's language, or an aligner reference (alias, hub id or folder). @default false
   */
  readonly align?: boolean | string;
}

/** The options a CTC model honours; any other given option is refused, never ignored. */
const CTC_OPTIONS: ReadonlySet<string> = new Set(['model', 'variant', 'language', 'runtime', 'hub', 'align', 'allowTruncated', 'onTruncated', 'onProgress', 'onLanguage']);

/** Transcribes `input` with a Whisper or a CTC model (by what `model` names), aligned when `align` asks. */
export async function transcribe(input: TranscribeInput, options: SpeechOptions = {}): Promise<TranscriptionResult> {
  const { align = false, ...rest } = options;
  const ctc = typeof options.model === 'string' && isCtcModelRef(options.model);
  // Alignment reads the audio again: decode it once for both passes.
  const audio =
    input instanceof Float32Array || (!ctc && align === false)
      ? input
      : await decodeAudio(input, { allowTruncated: options.allowTruncated ?? false, onTruncated: options.onTruncated });
  const result = ctc ? await transcribeCtc(audio, rest) : await transcribeWhisper(audio, rest);
  if (align === false) return result;
  const aligner = await loadAligner(align === true ? result.language : align, { runtime: options.runtime, hub: options.hub });
  const aligned = await alignTranscript(audio as Float32Array, result.segments, aligner, { language: result.language });
  return { ...result, segments: aligned.segments };
}

async function transcribeCtc(audio: TranscribeInput, options: TranscribeOptions): Promise<TranscriptionResult> {
  const unsupported = Object.entries(options).filter(([key, value]) => value !== undefined && !CTC_OPTIONS.has(key) && value !== (DEFAULT_TRANSCRIBE as Record<string, unknown>)[key]);
  if (unsupported.length > 0) {
    throw new MoxingError('BAD_ARGUMENT', `${String(options.model)} is a CTC (wav2vec2) model: ${unsupported.map(([key]) => key).join(', ')} apply to Whisper models only`);
  }
  const model = await loadCtc(options.model as string, { variant: options.variant, runtime: options.runtime, hub: options.hub, ...(options.language ? { language: options.language } : {}) });
  return recognizeCtc(audio as Float32Array, model, options.language ? { language: options.language } : {});
}
