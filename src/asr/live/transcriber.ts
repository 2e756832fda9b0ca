/**
 * One live stream: audio in as it comes, events out. Silero VAD finds each utterance (turn detection as
 * OpenAI's server_vad, endpoint.ts); inside an utterance one of two policies decides what is committed:
 *
 * - 'vad': the utterance is re-decoded every `minChunkS` of new audio while it grows (partials), and decoded
 *   once more, whole, after `silenceDurationMs` of silence: that decode is the committed text. A partial runs
 *   while the stream goes on hearing audio (its event comes with a later push), none starts while the VAD
 *   hears silence, and one still running when its turn ends is dropped. A stream whose final is imminent
 *   holds every stream's partials back meanwhile (holdPartials, decoder.ts). The final decode starts as soon as
 *   its audio is all here (`speculativeFinal`): once the silence holds the padding kept after speech, which
 *   with `prefixPaddingMs` < `silenceDurationMs` is before the turn is decided. Its result waits for the
 *   decision; if the speech goes on it is thrown away. The same audio and prompt give the same decode.
 * - 'local-agreement': whisper_streaming's LocalAgreement-2 (agreement.ts): the buffer is re-decoded every
 *   `minChunkS`, the longest common word prefix of the last two hypotheses is committed, decodes are prompted
 *   with the last 200 committed characters, and the buffer is trimmed at a committed segment end once it
 *   passes `bufferTrimS`. At the utterance's end one last decode commits the rest (whisper_streaming's VAC
 *   flushes the last hypothesis without it).
 *
 * While the VAD hears silence nothing is decoded. Without VAD (`turnDetection: null`) the stream is one long
 * utterance until `commit()`: local-agreement commits as it goes, 'vad' (OpenAI's manual turns) at commit.
 * Time comes from the audio, never the clock: the same audio in the same pieces gives the same turns and
 * commits; only partials (dropped when a final or another stream's decode is due) depend on timing.
 */
import { N_SAMPLES, SAMPLE_RATE, type SileroVad, type VadStream } from '../../audio/index.js';
import { pyStrip } from '../../text/index.js';
import type { Task } from '../types.js';
import { isSilentWindow } from '../whisper/window-decode.js';
import { InFlight } from './in-flight.js';
import { HypothesisBuffer, promptText, shiftWord, trimPoint, type TimedWord } from './agreement.js';
import type { LiveDecoder } from './decoder.js';
import { Endpointer, type TurnDetection } from './endpoint.js';
import { alignedSegments, timedSegments, type LiveTokenizer, type LiveWordTiming, type TimedSegment } from './words.js';

export type LivePolicy = 'vad' | 'local-agreement';

export type LiveEvent =
  /** The VAD heard speech start at `start` (seconds of the stream). */
  | { readonly type: 'speech_started'; readonly start: number }
  /** What is said and not committed yet; replaces the previous partial. */
  | { readonly type: 'partial'; readonly text: string }
  /**
   * Settled text (never revised). `final`: the last commit of its utterance (its text may be empty), after
   * which the next partial belongs to a new utterance. `words`, with word timestamps: the text's words
   * (joined, the text), times in seconds of the stream and probabilities as openai's word timing gives them;
   * with token log-probs: the words with their tokens and log-probs, times spread over the decode's segments.
   */
  | { readonly type: 'committed'; readonly text: string; readonly start: number; readonly end: number; readonly words?: readonly TimedWord[]; readonly final: boolean }
  /** The VAD heard speech stop at `end`; the utterance's final commit follows. */
  | { readonly type: 'speech_stopped'; readonly end: number };

export interface LiveSettings {
  readonly policy: LivePolicy;
  /** Null: no VAD, turns end at commit(). */
  readonly turnDetection: TurnDetection | null;
  readonly minChunkS: number;
  readonly bufferTrimS: number;
  readonly language: string | undefined;
  readonly task: Task;
  /** Text every decode is prompted with ahead of the committed text (OpenAI's transcription.prompt). */
  readonly prompt: string | undefined;
  /** openai's no-speech rule: a decode above it (and not confident) counts as no text. Null turns it off. */
  readonly noSpeechThreshold: number | null;
  /** Most tokens a decode samples; undefined: Whisper's 224. */
  readonly maxTokens: number | undefined;
  /** Committed words carry their tokens and log-probs (TimedWord.logprobs). */
  readonly tokenLogprobs: boolean;
  /** Commits carry their words timed by cross-attention DTW (every settling decode runs one more decoder pass). */
  readonly wordTimestamps: boolean;
  /** 'vad' policy: a turn's final decode starts once its audio is all here, before the turn is decided. */
  readonly speculativeFinal: boolean;
}

/**
 * Longest audio a decode sees: a Whisper window, less room for the next chunk. An utterance (or an untrimmed
 * local-agreement buffer) that reaches it is committed there and continues as a new one.
 */
const MAX_BUFFER_SAMPLES = N_SAMPLES - SAMPLE_RATE;
/** Prompt tokens are cut (oldest first) to a multiple of this, so that streams' decodes line up in one batch. */
const PROMPT_TOKEN_STEP = 8;
/**
 * A turn's final is imminent once it would start within this much audio (a partial started now would still
 * be running then: a base-sized window's encoder and decode take about half a second on 2 cores).
 */
const IMMINENT_SAMPLES = SAMPLE_RATE;
/** A hold on partials lapses this long after the stream last renewed it (at each push). */
const HOLD_LAPSE_MS = 1000;

interface Decoded {
  readonly text: string;
  readonly segments: TimedSegment[];
}

interface Utterance {
  /** First sample of its audio (padding included). */
  start: number;
  /** Samples of audio at the last decode. */
  decodedUpTo: number;
}

/** A partial decode of `utterance`'s audio up to `upTo`, running while the stream goes on ('vad' policy). */
interface PartialDecode {
  readonly decode: InFlight<Decoded>;
  readonly utterance: Utterance;
  readonly upTo: number;
}

/** A final decoded before its turn is decided: the utterance's audio from `start` to `to`. */
interface Speculation {
  readonly decode: InFlight<Decoded>;
  readonly start: number;
  readonly to: number;
}

export class LiveTranscriber {
  /** Audio from `base` to `received` (the current utterance and the padding before it). */
  private audio = new Float32Array(N_SAMPLES);
  private base = 0;
  private received = 0;
  private readonly vad: VadStream | undefined;
  private readonly endpointer: Endpointer | undefined;
  private utterance: Utterance | undefined;
  /** Where the last utterance's audio ended: the next one's padding never reaches back past it. */
  private lastEnd = 0;
  // local-agreement
  private hypothesis = new HypothesisBuffer();
  private committed: TimedWord[] = [];
  private bufferOffset = 0;
  private readonly tokenizer: LiveTokenizer & { encode(text: string): number[] };
  private readonly pad: number;
  // vad
  private partial: PartialDecode | undefined;
  private speculation: Speculation | undefined;

  constructor(
    private readonly decoder: LiveDecoder,
    vadModel: SileroVad | undefined,
    readonly settings: LiveSettings,
    /** The timestamped decoder and its alignment heads, for `settings.wordTimestamps`. */
    private readonly wordTiming?: LiveWordTiming,
  ) {
    this.tokenizer = decoder.model.tokenizer as unknown as LiveTokenizer & { encode(text: string): number[] };
    if (settings.wordTimestamps && !wordTiming) throw new TypeError('word timestamps need the timestamped decoder');
    if (settings.turnDetection) {
      if (!vadModel) throw new TypeError('turn detection needs the Silero model');
      this.vad = vadModel.stream();
      this.endpointer = new Endpointer(settings.turnDetection);
    }
    this.pad = Math.round(((settings.turnDetection?.prefixPaddingMs ?? 0) * SAMPLE_RATE) / 1000);
  }

  /** Seconds of audio received. */
  get seconds(): number {
    return this.received / SAMPLE_RATE;
  }

  /** Takes the next 16 kHz samples; returns the events they settle (decoding at most once, plus any finals). */
  push(samples: Float32Array): Promise<LiveEvent[]> {
    return this.decoder.busy(() => this.take(samples));
  }

  private async take(samples: Float32Array): Promise<LiveEvent[]> {
    this.append(samples);
    const events: LiveEvent[] = [];
    if (this.vad && this.endpointer) {
      const edges = this.endpointer.feed(await this.vad.push(samples));
      events.push(...this.readyPartial());
      for (const edge of edges) {
        if (edge.kind === 'start') {
          events.push({ type: 'speech_started', start: edge.sample / SAMPLE_RATE });
          this.begin(Math.max(this.lastEnd, this.base, edge.sample - this.pad));
        } else if (this.utterance) {
          events.push({ type: 'speech_stopped', end: edge.sample / SAMPLE_RATE });
          events.push(...(await this.end(Math.min(edge.decidedAt, edge.sample + this.pad))));
        }
      }
    } else {
      this.utterance ??= { start: this.base, decodedUpTo: this.base };
      events.push(...this.readyPartial());
    }
    // Before this stream's own partial is asked for: a hold from its last push may have ended.
    this.holdPartials();
    if (this.utterance) events.push(...(await this.step()));
    else this.forgetIdleAudio();
    this.speculate();
    this.holdPartials();
    return events;
  }

  /**
   * While this stream hears the silence that may end its turn, and its final would start soon (at the
   * silence's padding with `speculativeFinal`, else at the turn's end), no partial starts on any stream that
   * shares the decoder: its encoder, which cannot be stopped, would delay the final (decoder.ts).
   */
  private holdPartials(): void {
    const turn = this.settings.turnDetection;
    const silence = this.endpointer?.silenceSince;
    if (!this.utterance || !turn || silence === undefined) {
      this.decoder.release(this);
      return;
    }
    const decided = silence + (turn.silenceDurationMs * SAMPLE_RATE) / 1000;
    const speculated = this.settings.speculativeFinal && this.settings.policy === 'vad' ? Math.min(decided, silence + this.pad) : decided;
    if (speculated - this.received <= IMMINENT_SAMPLES) this.decoder.hold(this, HOLD_LAPSE_MS);
    else this.decoder.release(this);
  }

  /** Ends the current utterance now (a manual commit); its final commit, or nothing without one. */
  commit(): Promise<LiveEvent[]> {
    return this.decoder.busy(() => this.commitNow());
  }

  private async commitNow(): Promise<LiveEvent[]> {
    this.endpointer?.reset();
    this.decoder.release(this);
    if (!this.utterance && !this.endpointer && this.received > this.base) this.utterance = { start: this.base, decodedUpTo: this.base };
    return this.utterance ? this.end(this.received) : [];
  }

  /** Drops the audio not committed yet (OpenAI's input_audio_buffer.clear). */
  clear(): void {
    this.dropPartial();
    this.discardSpeculation();
    this.endpointer?.reset();
    this.decoder.release(this);
    this.utterance = undefined;
    this.hypothesis = new HypothesisBuffer();
    this.lastEnd = this.received;
    this.forgetIdleAudio();
  }

  /** End of input: the VAD's last partial frame, then the current utterance's final commit. */
  finish(): Promise<LiveEvent[]> {
    return this.decoder.busy(() => this.finishNow());
  }

  private async finishNow(): Promise<LiveEvent[]> {
    const events: LiveEvent[] = this.readyPartial();
    if (this.vad && this.endpointer && this.utterance) {
      // The last frame is zero-padded: it counts as audio only up to `received`.
      const edges = this.endpointer.feed(await this.vad.flush(false));
      for (const edge of edges) {
        if (edge.kind === 'stop' && this.utterance) {
          events.push({ type: 'speech_stopped', end: Math.min(edge.sample, this.received) / SAMPLE_RATE });
          events.push(...(await this.end(Math.min(edge.sample + this.pad, this.received))));
        }
      }
    }
    if (this.utterance) {
      if (this.endpointer) events.push({ type: 'speech_stopped', end: this.seconds });
      events.push(...(await this.commitNow()));
    }
    this.decoder.release(this);
    return events;
  }

  private append(samples: Float32Array): void {
    const used = this.received - this.base;
    if (used + samples.length > this.audio.length) {
      const grown = new Float32Array(Math.max(this.audio.length * 2, used + samples.length));
      grown.set(this.audio.subarray(0, used));
      this.audio = grown;
    }
    this.audio.set(samples, used);
    this.received += samples.length;
  }

  /** Keeps only what a next utterance's padding may need: the padding before the first frame not yet judged. */
  private forgetIdleAudio(): void {
    const judged = this.endpointer?.frontier ?? this.received;
    this.dropBefore(Math.max(this.lastEnd, judged - this.pad));
  }

  private dropBefore(sample: number): void {
    const cut = Math.min(this.received, sample) - this.base;
    if (cut <= 0) return;
    this.audio.copyWithin(0, cut, this.received - this.base);
    this.base += cut;
  }

  private slice(from: number, to: number): Float32Array {
    return this.audio.slice(from - this.base, to - this.base);
  }

  private begin(start: number): void {
    this.dropBefore(start);
    this.utterance = { start, decodedUpTo: start };
    this.hypothesis = new HypothesisBuffer();
    this.bufferOffset = start / SAMPLE_RATE;
  }

  /** The decode due after new audio: a partial (vad) or a LocalAgreement step; an over-long utterance is cut. */
  private async step(): Promise<LiveEvent[]> {
    const u = this.utterance!;
    if (this.settings.policy === 'vad') {
      const events: LiveEvent[] = [];
      while (this.received - this.utterance!.start >= MAX_BUFFER_SAMPLES) {
        const cut = this.utterance!.start + MAX_BUFFER_SAMPLES;
        events.push(...(await this.end(cut)));
        this.begin(cut);
      }
      // One partial at a time, and none in silence (no new words; the final is near).
      if (!this.partial && this.endpointer?.silenceSince === undefined) this.startPartial(this.utterance!);
      return events;
    }
    if (this.received - u.decodedUpTo < this.settings.minChunkS * SAMPLE_RATE) return [];
    return this.agree(false, this.received);
  }

  /** A partial of `current`'s audio so far, once `minChunkS` of new audio came since the last one. */
  private startPartial(current: Utterance): void {
    const upTo = this.received;
    if (upTo - current.decodedUpTo < this.settings.minChunkS * SAMPLE_RATE) return;
    const samples = this.slice(current.start, upTo);
    const decode = new InFlight((signal) => this.decode(samples, this.settings.prompt ?? '', { align: false, partial: true }, signal));
    this.partial = { decode, utterance: current, upTo };
  }

  /** The partial in flight's event once it has answered (none when it was dropped: asked again with newer audio). */
  private readyPartial(): LiveEvent[] {
    const partial = this.partial;
    if (!partial?.decode.answered) return [];
    this.partial = undefined;
    const decoded = partial.decode.answer();
    if (!decoded || partial.utterance !== this.utterance) return [];
    partial.utterance.decodedUpTo = partial.upTo;
    return [{ type: 'partial', text: decoded.text }];
  }

  /** Stops the partial in flight: its utterance's final is due. */
  private dropPartial(): void {
    this.partial?.decode.callOff();
    this.partial = undefined;
  }

  /**
   * Starts the current turn's final decode when the VAD hears a silence that already holds the padding kept
   * after speech: if the silence lasts, the turn ends there (at silence + padding, when the padding is no
   * longer than the silence that decides). Speech heard again throws it away.
   */
  private speculate(): void {
    const u = this.utterance;
    const silence = this.endpointer?.silenceSince;
    const to = silence === undefined ? undefined : silence + this.pad;
    const spec = this.speculation;
    if (spec && !(u && spec.start === u.start && spec.to === to)) this.discardSpeculation();
    const turn = this.settings.turnDetection;
    if (!u || to === undefined || this.speculation || !this.settings.speculativeFinal || this.settings.policy !== 'vad' || !turn) return;
    if (this.pad > (turn.silenceDurationMs * SAMPLE_RATE) / 1000 || this.received < to) return;
    const samples = this.slice(u.start, to);
    this.speculation = { decode: new InFlight((signal) => this.finalDecode(samples, signal)), start: u.start, to };
    this.decoder.stats.speculated++;
  }

  private discardSpeculation(): void {
    if (!this.speculation) return;
    this.speculation.decode.callOff();
    this.speculation = undefined;
    this.decoder.stats.wasted++;
  }

  /** The speculative final of the audio from `start` to `to`, if that is the one running; any other is thrown away. */
  private takeSpeculation(start: number, to: number): Promise<Decoded | undefined> | undefined {
    const spec = this.speculation;
    if (spec?.start !== start || spec.to !== to) {
      this.discardSpeculation();
      return undefined;
    }
    this.speculation = undefined;
    return spec.decode.result;
  }

  /** The utterance's final decode over its audio up to `to`; it is then over. */
  private async end(to: number): Promise<LiveEvent[]> {
    const u = this.utterance!;
    this.dropPartial();
    let events: LiveEvent[];
    if (this.settings.policy === 'vad') {
      const speculated = await this.takeSpeculation(u.start, to);
      const { text, segments } = speculated ?? (await this.finalDecode(this.slice(u.start, to)))!;
      const offset = u.start / SAMPLE_RATE;
      // Words when asked for: timed by DTW (wordTimestamps), or carrying their tokens' log-probs (tokenLogprobs).
      const shown = this.settings.wordTimestamps || this.settings.tokenLogprobs;
      const words = shown ? { words: segments.flatMap((s) => s.words).map((w) => shiftWord(w, offset)) } : {};
      events = [{ type: 'committed', text, start: offset, end: to / SAMPLE_RATE, ...words, final: true }];
    } else {
      events = await this.agree(true, to);
    }
    this.utterance = undefined;
    this.lastEnd = to;
    // Only up to its end: later turns of the same push are already judged and start after it.
    this.dropBefore(to);
    return events;
  }

  /** LocalAgreement-2 over the buffer up to `to`, in steps no longer than a decode may be; `final` commits all. */
  private async agree(final: boolean, to: number): Promise<LiveEvent[]> {
    const events: LiveEvent[] = [];
    const bufferStart = (): number => Math.round(this.bufferOffset * SAMPLE_RATE);
    while (to - bufferStart() > MAX_BUFFER_SAMPLES) events.push(...(await this.agreeOnce(false, bufferStart() + MAX_BUFFER_SAMPLES)));
    events.push(...(await this.agreeOnce(final, to)));
    return events;
  }

  /** One LocalAgreement-2 step over the buffer up to `to`. */
  private async agreeOnce(final: boolean, to: number): Promise<LiveEvent[]> {
    const u = this.utterance!;
    u.decodedUpTo = to;
    const from = Math.round(this.bufferOffset * SAMPLE_RATE);
    const prompt = [this.settings.prompt, promptText(this.committed, this.bufferOffset)].filter((p) => p).join(' ');
    const { segments } = await this.settle(this.slice(from, to), prompt, true);
    this.hypothesis.insert(segments.flatMap((s) => s.words), this.bufferOffset);
    const settled = this.hypothesis.flush();
    const bufferSamples = to - from;
    // An untrimmable buffer near a window's length commits what it has (whisper_streaming lets it overflow).
    const full = bufferSamples >= MAX_BUFFER_SAMPLES;
    if (final || full) settled.push(...this.hypothesis.complete());
    this.committed.push(...settled);
    const events: LiveEvent[] = [];
    if (settled.length > 0 || final) events.push(this.commitEvent(settled, final, to));
    if (final) return events;
    if (full) {
      this.hypothesis = new HypothesisBuffer();
      this.chunkAt(to / SAMPLE_RATE);
    } else {
      events.push({ type: 'partial', text: pyStrip(this.hypothesis.complete().map((w) => w.word).join('')) });
      if (bufferSamples > this.settings.bufferTrimS * SAMPLE_RATE) {
        const at = trimPoint(segments.map((s) => s.end), this.bufferOffset, this.committed.at(-1)?.end);
        if (at !== undefined) this.chunkAt(at);
      }
    }
    return events;
  }

  private commitEvent(words: readonly TimedWord[], final: boolean, to: number): LiveEvent {
    const text = pyStrip(words.map((w) => w.word).join(''));
    // An empty final sits where the audio or the text so far ended, whichever is later.
    const start = words[0]?.start ?? Math.max(to / SAMPLE_RATE, this.committed.at(-1)?.end ?? 0);
    const shown = this.settings.wordTimestamps || this.settings.tokenLogprobs;
    return { type: 'committed', text, start, end: words.at(-1)?.end ?? start, ...(shown ? { words } : {}), final };
  }

  /** whisper_streaming's `chunk_at`: the buffer starts at `time` from now on. */
  private chunkAt(time: number): void {
    this.hypothesis.popCommitted(time);
    this.bufferOffset = time;
    this.dropBefore(Math.round(time * SAMPLE_RATE));
  }

  /** A decode that settles text (never dropped); `align` cuts the prompt to PROMPT_TOKEN_STEP (it grows with the commits). */
  private async settle(samples: Float32Array, prompt: string, align: boolean): Promise<Decoded> {
    return (await this.decode(samples, prompt, { align, partial: false }))!;
  }

  /** A 'vad' turn's final decode; undefined only once `signal` called it off. */
  private finalDecode(samples: Float32Array, signal?: AbortSignal): Promise<Decoded | undefined> {
    return this.decode(samples, this.settings.prompt ?? '', { align: false, partial: false }, signal);
  }

  /** Decodes `samples` with `prompt`; a partial's decode may be dropped, and a decode called off by `signal` (undefined). */
  private async decode(samples: Float32Array, prompt: string, how: { align: boolean; partial: boolean }, signal?: AbortSignal): Promise<Decoded | undefined> {
    const s = this.settings;
    const tokens = prompt ? this.tokenizer.encode(' ' + pyStrip(prompt)) : [];
    const aligned = how.align ? tokens.slice(tokens.length % PROMPT_TOKEN_STEP) : tokens;
    // A partial's words are never shown: only settling decodes are timed.
    const timed = s.wordTimestamps && !how.partial;
    const request = { samples, language: s.language, task: s.task, prompt: aligned, sampleLen: s.maxTokens, keepFeatures: timed };
    const result = how.partial ? await this.decoder.decodePartial(request, signal) : await this.decoder.decode(request, signal);
    if (!result || signal?.aborted) return undefined;
    if (isSilentWindow(result, { noSpeechThreshold: s.noSpeechThreshold, logprobThreshold: -1 })) return { text: '', segments: [] };
    const duration = samples.length / SAMPLE_RATE;
    const segments =
      timed && result.features
        ? await alignedSegments(this.wordTiming!, this.tokenizer, { tokens: result.tokens, language: result.language, task: s.task, features: result.features }, duration)
        : timedSegments(result.tokens, this.tokenizer, result.language, duration, s.tokenLogprobs ? result.tokenLogprobs : undefined);
    return { text: result.text, segments };
  }
}
