/**
 * Decoding of 30 s windows, as openai/whisper `decoding.py`: `DecodingOptions` with frozen defaults, and
 * `DecodingTask`, the one place that puts together the initial tokens, the logit filters, the token
 * search and the ranker, and runs them over a DecoderRunner.
 */
import { bad, checkCounts, checkLengthPenalty, checkTask } from './option-checks.js';
import { MoxingError } from '../../errors.js';
import { compressionRatio, pyStrip } from '../../text/index.js';
import type { Task } from '../types.js';
import type { DecoderRunner } from './decoder-runner.js';
import type { AudioFeatures } from './encoder.js';
import { detectLanguage, type LanguageTokenId } from './language.js';
import { applyTimestampRules, suppressBlank, suppressTokens, type LogitFilter } from './logit-filters.js';
import { softmaxAt } from './logits.js';
import { activeDecodeProfile, type DecodeProfile } from './profile.js';
import { lastItems, pyRound } from '../../text/python.js';
import { BeamSearchDecoder, GreedyDecoder, rankCandidates, rowView, seededRandom, type Random, type TokenDecoder } from './search.js';

export interface DecodingOptions {
  /** X->X "transcribe" or X->English "translate". @default 'transcribe' */
  readonly task?: Task;
  /** Language of the audio (code or English name); detected per window when undefined. @default undefined */
  readonly language?: string;
  /** Sampling temperature; 0 is greedy (or beam search). @default 0 */
  readonly temperature?: number;
  /** Most tokens to sample in one window. @default nTextCtx / 2 (224) */
  readonly sampleLen?: number;
  /** Independent samples to draw at temperature > 0, the most likely kept. @default undefined (1) */
  readonly bestOf?: number;
  /** Beams of beam search at temperature 0; greedy when undefined. @default undefined */
  readonly beamSize?: number;
  /** Beam search patience (arxiv:2204.05424): finished candidates to wait for = beamSize * patience. @default undefined (1) */
  readonly patience?: number;
  /** Google NMT length penalty alpha in [0, 1] for ranking; plain length normalisation when undefined. @default undefined */
  readonly lengthPenalty?: number;
  /** Previous-context text or tokens, fed after <|startofprev|>. @default undefined */
  readonly prompt?: string | readonly number[];
  /** Text or tokens that the current window's transcript must start with. @default undefined */
  readonly prefix?: string | readonly number[];
  /** Token ids to suppress, or their comma-separated list; -1 stands for the non-speech symbol set. @default '-1' */
  readonly suppressTokens?: string | readonly number[];
  /** Forbid a blank or an immediate end of text at the first sampled position. @default true */
  readonly suppressBlank?: boolean;
  /** Sample text tokens only, after <|notimestamps|>. @default false */
  readonly withoutTimestamps?: boolean;
  /** Latest first timestamp, in seconds; null lifts the limit. @default 1.0 */
  readonly maxInitialTimestamp?: number | null;
  /** Seed of the sampler at temperature > 0; Math.random when undefined. @default undefined */
  readonly seed?: number;
}

type SetFields = 'task' | 'temperature' | 'suppressTokens' | 'suppressBlank' | 'withoutTimestamps' | 'maxInitialTimestamp';

/** Decoding options with every default applied. */
export type DecodingSettings = Required<Pick<DecodingOptions, SetFields>> & {
  readonly [K in Exclude<keyof DecodingOptions, SetFields>]-?: DecodingOptions[K] | undefined;
};

export const DEFAULT_DECODING: DecodingSettings = Object.freeze({
  task: 'transcribe',
  language: undefined,
  temperature: 0,
  sampleLen: undefined,
  bestOf: undefined,
  beamSize: undefined,
  patience: undefined,
  lengthPenalty: undefined,
  prompt: undefined,
  prefix: undefined,
  suppressTokens: '-1',
  suppressBlank: true,
  withoutTimestamps: false,
  maxInitialTimestamp: 1.0,
  seed: undefined,
});

export interface DecodingResult {
  readonly language: string;
  /** Language distribution, when this decode detected the language. */
  readonly languageProbs: Readonly<Record<string, number>> | undefined;
  /** Sampled tokens: text and timestamps, without the initial tokens and EOT. */
  readonly tokens: readonly number[];
  readonly text: string;
  readonly avgLogprob: number;
  /**
   * The log-prob of each of `tokens` when it was sampled (openai's log_softmax over the filtered logits, in
   * float32), the terms of avgLogprob's sum: avgLogprob = (sum of these + eotLogprob) / (tokens.length + 1),
   * the sum taken in float32 in order.
   */
  readonly tokenLogprobs: readonly number[];
  /** The log-prob of the EOT that ended the decode; 0 when it stopped at the length limit (openai adds nothing then). */
  readonly eotLogprob: number;
  readonly noSpeechProb: number;
  readonly temperature: number;
  readonly compressionRatio: number;
}

/** What decoding needs of a tokenizer (text/ WhisperTokenizer provides it). */
export interface DecodingTokenizer {
  readonly eot: number;
  readonly sot: number;
  readonly sotPrev: number;
  readonly sotLm: number;
  readonly noSpeech: number;
  readonly noTimestamps: number;
  readonly timestampBegin: number;
  readonly transcribe: number;
  readonly translate: number;
  readonly isMultilingual: boolean;
  readonly languageTokens: readonly LanguageTokenId[];
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /** Text with special tokens spelled out (`<|ht|>`), timestamps as `<|1.08|>`. */
  decodeWithTimestamps(ids: readonly number[]): string;
  sotSequence(language?: string, task?: Task): number[];
  nonSpeechTokens(): readonly number[];
  languageCode(id: number): string | undefined;
}

/**
 * openai's `Tokenizer.decode`: timestamps dropped, every other special token kept as its text. A decode can
 * sample a special token such as a language tag (`<|ht|>`); it then counts in the text, and so in the
 * compression ratio, as in openai.
 */
export function decodeText(tokenizer: DecodingTokenizer, ids: readonly number[]): string {
  return tokenizer.decodeWithTimestamps(ids.filter((id) => id < tokenizer.timestampBegin));
}

/** A model as decoding sees it: tokenizer, sizes, and runners over encoded audio. */
export interface DecodingContext {
  readonly tokenizer: DecodingTokenizer;
  /** Decoder context in tokens (448). */
  readonly nTextCtx: number;
  /** Encoder positions per window (1500); 30 s / nAudioCtx is the timestamp precision. */
  readonly nAudioCtx: number;
  createRunner(features: AudioFeatures, rowAudio: readonly number[]): DecoderRunner;
}

/** openai DecodingTask: validated options, initial tokens, filters and search, assembled once. */
export class DecodingTask {
  readonly options: DecodingSettings;
  readonly initialTokens: readonly number[];
  readonly sampleBegin: number;
  readonly sotIndex: number;
  readonly group: number;
  readonly sampleLen: number;
  readonly filters: readonly LogitFilter[];
  /** Index of ApplyTimestampRules in `filters` (-1 without timestamps); the profile times it apart. */
  private readonly timestampFilter: number;

  constructor(
    private readonly context: DecodingContext,
    options: DecodingOptions = {},
    private readonly random: Random = options.seed === undefined ? Math.random : seededRandom(options.seed),
  ) {
    const o = { ...DEFAULT_DECODING, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as DecodingSettings;
    verifyOptions(o);
    this.options = Object.freeze(o);
    const { tokenizer, nTextCtx } = context;
    this.group = o.beamSize ?? o.bestOf ?? 1;
    this.sampleLen = o.sampleLen ?? Math.floor(nTextCtx / 2);

    let tokens = tokenizer.sotSequence(o.language ?? 'en', o.task);
    if (o.withoutTimestamps) tokens.push(tokenizer.noTimestamps);
    if (o.prefix !== undefined && o.prefix.length > 0) {
      const prefix = typeof o.prefix === 'string' ? tokenizer.encode(' ' + pyStrip(o.prefix)) : [...o.prefix];
      tokens = tokens.concat(lastItems(prefix, Math.floor(nTextCtx / 2) - this.sampleLen));
    }
    if (o.prompt !== undefined && o.prompt.length > 0) {
      const prompt = typeof o.prompt === 'string' ? tokenizer.encode(' ' + pyStrip(o.prompt)) : [...o.prompt];
      tokens = [tokenizer.sotPrev, ...lastItems(prompt, Math.floor(nTextCtx / 2) - 1), ...tokens];
    }
    this.initialTokens = Object.freeze(tokens);
    this.sampleBegin = tokens.length;
    this.sotIndex = tokens.indexOf(tokenizer.sot);

    const filters: LogitFilter[] = [];
    if (o.suppressBlank) filters.push(suppressBlank(tokenizer.encode(' '), tokenizer.eot, this.sampleBegin));
    const suppress = this.suppressTokenIds();
    if (suppress.length > 0) filters.push(suppressTokens(suppress));
    if (!o.withoutTimestamps) {
      const precision = 30 / context.nAudioCtx;
      const maxIndex = o.maxInitialTimestamp ? pyRound(o.maxInitialTimestamp / precision) : undefined;
      filters.push(applyTimestampRules(tokenizer, this.sampleBegin, maxIndex));
    }
    this.filters = filters;
    this.timestampFilter = o.withoutTimestamps ? -1 : filters.length - 1;
  }

  /** openai `_get_suppress_tokens`: the listed ids (-1 = non-speech set) plus the task and SOT specials. */
  private suppressTokenIds(): number[] {
    const { tokenizer } = this.context;
    const given = this.options.suppressTokens;
    let ids = typeof given === 'string' ? given.split(',').filter((s) => s.trim() !== '').map((s) => parseTokenId(s)) : [...given];
    // Whisper's vocabulary ends with the 1501 timestamp tokens <|0.00|> ... <|30.00|>: no id lies past them.
    const lastId = tokenizer.timestampBegin + 1500;
    const outside = ids.find((t) => !Number.isInteger(t) || t < -1 || t > lastId);
    if (outside !== undefined) throw new MoxingError('BAD_ARGUMENT', `suppressTokens: ${outside} is not a token id of this model (0 to ${lastId}, or -1 for the non-speech set)`);
    if (ids.includes(-1)) ids = ids.filter((t) => t >= 0).concat(tokenizer.nonSpeechTokens());
    else if (ids.length === 0) return []; // an empty list turns suppression off entirely, as openai's falsy check does
    ids.push(tokenizer.transcribe, tokenizer.translate, tokenizer.sot, tokenizer.sotPrev, tokenizer.sotLm, tokenizer.noSpeech);
    return [...new Set(ids)].sort((a, b) => a - b);
  }

  /**
   * Decodes every window of `features`; one result per window. `initialRows` gives each window its own
   * initial tokens (its own prompt), each as long as `initialTokens` with SOT at the same place: windows of
   * different streams decoded together (asr/live). `signal` stops the decode between token steps (it rejects
   * with the signal's reason): asr/live stops a partial that a final should not wait for.
   */
  async run(features: AudioFeatures, initialRows?: readonly (readonly number[])[], signal?: AbortSignal): Promise<DecodingResult[]> {
    const { tokenizer, nTextCtx } = this.context;
    const o = this.options;
    const audios = features.batch;
    const identity = Array.from({ length: audios }, (_, i) => i);
    if (initialRows && (initialRows.length !== audios || initialRows.some((r) => r.length !== this.sampleBegin || r[this.sotIndex] !== tokenizer.sot))) {
      throw new MoxingError('INTERNAL', 'initialRows must give every window initial tokens as long as the task\'s, with SOT at the same place');
    }
    const rows: number[][] = identity.map((a) => [...(initialRows ? initialRows[a] : this.initialTokens)]);

    let languages = identity.map(() => o.language ?? 'en');
    let languageProbs: (Readonly<Record<string, number>> | undefined)[] = identity.map(() => undefined);
    if (o.language === undefined && tokenizer.isMultilingual) {
      const detected = await detectLanguage(this.context.createRunner(features, identity), tokenizer.sot, tokenizer.languageTokens);
      languages = detected.map((d) => d.language);
      languageProbs = detected.map((d) => d.probabilities);
      detected.forEach((d, i) => (rows[i][this.sotIndex + 1] = d.token));
    }

    signal?.throwIfAborted();
    const runner = this.context.createRunner(features, identity);
    try {
      const vocab = runner.vocabSize;
      const prefill = await runner.prefill(rows, this.sotIndex);
      const noSpeechProbs = identity.map((a) => softmaxAt(rowView(prefill.kept as Float32Array, vocab, a), tokenizer.noSpeech));

      // Every member of a group starts from the same first pass: fan the rows out instead of recomputing.
      let logits = prefill.last;
      if (this.group > 1) {
        const fan = identity.flatMap((a) => Array.from({ length: this.group }, () => a));
        runner.reorder(fan);
        logits = new Float32Array(fan.length * vocab);
        fan.forEach((a, r) => logits.set(rowView(prefill.last, vocab, a), r * vocab));
      }

      const decoder: TokenDecoder =
        o.beamSize !== undefined
          ? new BeamSearchDecoder(rows, o.beamSize, vocab, tokenizer.eot, o.patience ?? 1)
          : new GreedyDecoder(rows, this.group, vocab, tokenizer.eot, o.temperature, this.random);

      const profile = activeDecodeProfile();
      for (let i = 0; i < this.sampleLen; i++) {
        signal?.throwIfAborted();
        if (profile) {
          logits = await this.profiledStep(profile, runner, decoder, logits, i);
          const t = performance.now();
          const { sources, completed } = decoder.update(logits);
          profile.samplingMs += performance.now() - t;
          profile.tokens += decoder.live.length;
          if (completed || decoder.live.length === 0 || decoder.live[0].length > nTextCtx) break;
          const r = performance.now();
          if (sources) runner.reorder(sources);
          profile.kvMs += performance.now() - r;
          continue;
        }
        if (i > 0) logits = await runner.step(decoder.live.map((t) => t[t.length - 1]));
        decoder.live.forEach((tokens, r) => {
          const view = rowView(logits, vocab, r);
          for (const filter of this.filters) filter(view, tokens);
        });
        const { sources, completed } = decoder.update(logits);
        if (completed || decoder.live.length === 0 || decoder.live[0].length > nTextCtx) break;
        if (sources) runner.reorder(sources);
      }

      const candidates = decoder.finalize();
      const sampled = candidates.tokens.map((group) => group.map((t) => t.slice(this.sampleBegin, t.indexOf(tokenizer.eot, this.sampleBegin))));
      const selected = rankCandidates(sampled, candidates.sumLogprobs, o.lengthPenalty);
      return identity.map((a) => {
        const tokens = sampled[a][selected[a]];
        const logprobs = candidates.tokenLogprobs[a][selected[a]];
        const text = pyStrip(decodeText(tokenizer, tokens));
        return {
          language: languages[a],
          languageProbs: languageProbs[a],
          tokens,
          text,
          avgLogprob: candidates.sumLogprobs[a][selected[a]] / (tokens.length + 1),
          tokenLogprobs: logprobs.slice(0, tokens.length),
          eotLogprob: logprobs[tokens.length] ?? 0,
          noSpeechProb: noSpeechProbs[a],
          temperature: o.temperature,
          compressionRatio: compressionRatio(text),
        };
      });
    } finally {
      // Its buffers serve the next decode (a batch's next windows, a stream's next turn).
      runner.release?.();
    }
  }

  /** One loop iteration's step and filters, as the plain loop runs them, with each phase timed into `profile`. */
  private async profiledStep(profile: DecodeProfile, runner: DecoderRunner, decoder: TokenDecoder, logits: Float32Array, i: number): Promise<Float32Array> {
    let t = performance.now();
    if (i > 0) {
      const last = decoder.live.map((tokens) => tokens[tokens.length - 1]);
      profile.bookkeepingMs += performance.now() - t;
      t = performance.now();
      const ortBefore = profile.ortMs;
      logits = await runner.step(last);
      // The runner adds its `run` time to ortMs; the rest of the step is KV and feed handling.
      profile.kvMs += performance.now() - t - (profile.ortMs - ortBefore);
      profile.steps++;
    }
    const vocab = runner.vocabSize;
    decoder.live.forEach((tokens, r) => {
      const view = rowView(logits, vocab, r);
      this.filters.forEach((filter, f) => {
        const s = performance.now();
        filter(view, tokens);
        if (f === this.timestampFilter) profile.timestampMs += performance.now() - s;
        else profile.suppressMs += performance.now() - s;
      });
    });
    return logits;
  }
}

function parseTokenId(text: string): number {
  const id = Number(text.trim());
  if (!Number.isInteger(id) || id < -1) {
    throw new MoxingError('BAD_ARGUMENT', `suppressTokens: "${text}" is not a token id; give comma-separated integer ids, -1 for the non-speech set`);
  }
  return id;
}

/** openai `_verify_options`, plus range checks on the numbers. */
function verifyOptions(o: DecodingSettings): void {
  checkTask(o.task);
  if (o.beamSize !== undefined && o.bestOf !== undefined) bad("beamSize and bestOf can't be given together: beam search is for temperature 0, bestOf for sampling");
  if (o.temperature === 0 && o.bestOf !== undefined) bad('bestOf needs a temperature above 0 (at 0, sampling is greedy)');
  if (o.patience !== undefined && o.beamSize === undefined) bad('patience needs beamSize (it applies to beam search only)');
  checkLengthPenalty(o.lengthPenalty);
  if (!(Number.isFinite(o.temperature) && o.temperature >= 0)) bad(`temperature must be a number >= 0, got ${o.temperature}`);
  checkCounts(o);
  if (o.patience !== undefined && !(o.patience > 0 && Math.round(o.beamSize! * o.patience) > 0)) bad(`patience must be above 0 and leave at least one candidate, got ${o.patience}`);
}

/** Decodes 30 s windows already through the encoder (openai `decode`). */
export function decodeFeatures(context: DecodingContext, features: AudioFeatures, options: DecodingOptions = {}, random?: Random): Promise<DecodingResult[]> {
  return new DecodingTask(context, options, random).run(features);
}
