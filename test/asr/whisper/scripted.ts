/**
 * A scripted DecoderRunner and model for the pure-algorithm tests: logits come from a function of each
 * row's tokens, so search, filters and the transcribe loop run exactly as they would over ONNX, with
 * outcomes set by hand. The real runner is tested against the ONNX models in equivalence.test.ts.
 */
import { join } from 'node:path';
import type { AudioFeatures, DecoderRunner, PrefillLogits, TranscriptionModel } from '../../../src/asr/index.js';
import { Tensor } from '../../../src/runtime/index.js';
import { loadWhisperTokenizer, type WhisperTokenizer } from '../../../src/text/index.js';

/** Fills `logits` (zeroed) for the position after `tokens`; `audio` is the window's index in the batch. */
export type Script = (tokens: readonly number[], logits: Float32Array, audio: number) => void;

export const FIXTURE_DIR = join(process.cwd(), '..', 'shared', 'models', 'whisper-tiny-random');

let tokenizer: Promise<WhisperTokenizer> | undefined;
/** The real multilingual tokenizer of the shared fixture. */
export function fixtureTokenizer(): Promise<WhisperTokenizer> {
  tokenizer ??= loadWhisperTokenizer(FIXTURE_DIR);
  return tokenizer;
}

export class ScriptedRunner implements DecoderRunner {
  private tokens: number[][] = [];
  /** Rows after each call, for per-row-end assertions. */
  readonly rowHistory: number[] = [];
  /** Every prefill's token rows, for prompt assertions. */
  readonly prefills: number[][][] = [];

  constructor(
    readonly vocabSize: number,
    private readonly script: Script,
    private rowAudio: number[],
  ) {}

  get rows(): number {
    return this.rowAudio.length;
  }

  private logitsOf(rows: readonly (readonly number[])[], audio: readonly number[]): Float32Array {
    const out = new Float32Array(rows.length * this.vocabSize);
    rows.forEach((t, r) => this.script(t, out.subarray(r * this.vocabSize, (r + 1) * this.vocabSize), audio[r]));
    return out;
  }

  async prefill(tokens: readonly (readonly number[])[], keepPosition?: number): Promise<PrefillLogits> {
    this.tokens = tokens.map((t) => [...t]);
    this.prefills.push(this.tokens.map((t) => [...t]));
    this.rowHistory.push(this.rows);
    const kept = keepPosition === undefined ? undefined : this.logitsOf(this.tokens.map((t) => t.slice(0, keepPosition + 1)), this.rowAudio);
    return { last: this.logitsOf(this.tokens, this.rowAudio), kept };
  }

  async step(tokens: readonly number[]): Promise<Float32Array> {
    if (tokens.length !== this.rows) throw new Error(`step got ${tokens.length} tokens for ${this.rows} rows`);
    tokens.forEach((t, r) => this.tokens[r].push(t));
    this.rowHistory.push(this.rows);
    return this.logitsOf(this.tokens, this.rowAudio);
  }

  reorder(sources: readonly number[]): void {
    this.tokens = sources.map((s) => [...this.tokens[s]]);
    this.rowAudio = sources.map((s) => this.rowAudio[s]);
  }
}

/** Features that only carry a batch size: the scripted runner never reads them. */
export function fakeFeatures(batch: number): AudioFeatures {
  return { batch, tensor: new Tensor('float32', new Float32Array(batch), [batch, 1, 1]) };
}

export interface ScriptedModel extends TranscriptionModel {
  /** Every runner created, in order (language detection and each decode make one). */
  readonly runners: ScriptedRunner[];
  /** Mel windows encoded. */
  encodes: number;
}

/** A TranscriptionModel over the real tokenizer whose decoder is `script`. */
export async function scriptedModel(script: Script, options: { multilingual?: boolean } = {}): Promise<ScriptedModel> {
  const tok = await fixtureTokenizer();
  const runners: ScriptedRunner[] = [];
  const model: ScriptedModel = {
    tokenizer: tok,
    nTextCtx: 448,
    nAudioCtx: 1500,
    dims: { nMels: 80, nAudioCtx: 1500, nTextCtx: 448 },
    isMultilingual: options.multilingual ?? true,
    runners,
    encodes: 0,
    async encode() {
      model.encodes++;
      return fakeFeatures(1);
    },
    createRunner(features, rowAudio) {
      const runner = new ScriptedRunner(tok.vocabSize, script, [...rowAudio]);
      runners.push(runner);
      return runner;
    },
  };
  return model;
}
