/**
 * Word-level timestamps from cross-attention, as openai/whisper `timing.py` computes them: pure functions
 * over plain arrays, no model calls.
 *
 * ## Contract with the transcribe loop (one 30 s window)
 * After a window is decoded into `segments` (openai's `current_segments`):
 * 1. Collect the text tokens: `textTokens = segments.flatMap(s => s.tokens.filter(t => t < eot))`.
 *    If empty, skip the window (every segment gets `words: []`).
 * 2. Build the sequence with {@link timingSequence}: `sotSequence + [noTimestamps] + textTokens + [eot]`
 *    (exactly openai's `find_alignment`), and run the `_timestamped` decoder ONCE over it without a KV cache
 *    (`use_cache_branch=false`, zero-length past), on the window's encoder output. Check the session first
 *    with {@link requireCrossAttentions} (clear error naming the timestamped export).
 * 3. Take `logits` [1, seqLen, vocab] → {@link textTokenProbabilities} (softmax over ids < eot, as openai).
 *    Take `cross_attentions.{layer}` [1, heads, seqLen, 1500] for every decoder layer. They are the
 *    post-softmax attention weights of the export; {@link alignmentMatrix} renormalises them over the
 *    window's frames, which is exactly openai's softmax of the raw QK scores truncated to `num_frames // 2`.
 * 4. Call {@link addWordTimestamps} with those, `alignmentHeads` (`[[layer, head], ...]`: generation_config.json's
 *    for official checkpoints; openai's {@link defaultAlignmentHeads} is what reproduces the shared random
 *    fixture's oracle, whose generation_config heads openai never saw), `numFrames` (openai's `segment_size`, in mel frames, <= 3000), `seekFrames`
 *    (the window's seek in mel frames), the tokenizer's word splitter and the running `lastSpeechTimestamp`.
 *    It returns, per segment, the words (times in seconds of the whole audio, rounded to 0.01 s as openai)
 *    and the segment's start/end as openai rewrites them.
 * 5. The caller then updates `lastSpeechTimestamp = getEnd(updatedSegments)` and, when the window did not end
 *    on a single timestamp, moves seek to `round(lastWordEnd * 100)` (openai `transcribe.py`).
 */
import { MoxingError } from '../../errors.js';
import { HOP_LENGTH, SAMPLE_RATE } from '../../audio/constants.js';
import { pyRound } from '../../text/python.js';

/** Audio frames per second of Whisper's encoder output (openai TOKENS_PER_SECOND: 16000 / 160 / 2). */
export const ATTENTION_FRAMES_PER_SECOND = SAMPLE_RATE / (HOP_LENGTH * 2);

export interface WordTimingOptions {
  /** Median filter width over the frame axis, odd. @default 7 */
  medianFilterWidth: number;
  /** Scale applied to QK scores before the softmax (openai `qk_scale`). @default 1 */
  qkScale: number;
  /** Punctuation merged into the following word. @default "\"'“¿([{-" */
  prependPunctuations: string;
  /** Punctuation merged into the preceding word. @default "\"'.。,，!！?？:：”)]}、" */
  appendPunctuations: string;
}

export const DEFAULT_WORD_TIMING: Readonly<WordTimingOptions> = Object.freeze({
  medianFilterWidth: 7,
  qkScale: 1,
  prependPunctuations: '"\'“¿([{-',
  appendPunctuations: '"\'.。,，!！?？:：”)]}、',
});

/** A word of one alignment (openai `WordTiming`); times in seconds from the window start. */
export interface WordTiming {
  word: string;
  tokens: number[];
  start: number;
  end: number;
  probability: number;
}

/** The tokenizer's word grouping (openai `Tokenizer.split_to_word_tokens`), bound to the language. */
export type WordSplitter = (tokens: readonly number[]) => {
  readonly words: readonly string[];
  readonly wordTokens: readonly (readonly number[])[];
};

/** A float32 tensor as onnxruntime returns it (an ort.Tensor of type float32 satisfies this). */
export interface FloatTensorLike {
  /** Must be a Float32Array; typed loosely so ort.Tensor fits without a cast. */
  readonly data: unknown;
  readonly dims: readonly number[];
}

/**
 * Median over a sliding window of `width` along each row of a row-major matrix, with reflect padding
 * (torch `F.pad(mode="reflect")`, edge not repeated). Rows no longer than `width // 2` come back unchanged,
 * as openai's `median_filter` does.
 */
export function medianFilter(x: Float32Array | Float64Array, width: number, rowLength = x.length): Float64Array {
  if (!Number.isInteger(width) || width <= 0 || width % 2 !== 1) {
    throw new RangeError(`median filter width must be a positive odd number, got ${width}`);
  }
  const out = Float64Array.from(x);
  const pad = width >> 1;
  if (rowLength <= pad || rowLength === 0) return out;
  const window = new Float64Array(width);
  for (let base = 0; base < x.length; base += rowLength) {
    for (let j = 0; j < rowLength; j++) {
      for (let k = 0; k < width; k++) {
        let p = j + k - pad;
        if (p < 0) p = -p;
        else if (p >= rowLength) p = 2 * (rowLength - 1) - p;
        window[k] = x[base + p];
      }
      window.sort();
      out[base + j] = window[pad];
    }
  }
  return out;
}

/**
 * Dynamic time warping over a [rows, cols] cost matrix, exactly openai's `dtw_cpu` + `backtrace`: the
 * accumulated cost is kept in float32 as there, ties prefer the left step (2), then up (1), then diagonal.
 * Returns the path from (0, 0) to (rows-1, cols-1).
 */
export function dtw(
  x: Float32Array | Float64Array,
  rows: number,
  cols: number,
): { textIndices: Int32Array; timeIndices: Int32Array } {
  if (x.length !== rows * cols || rows < 1 || cols < 1) {
    throw new RangeError(`dtw expects a non-empty ${rows}x${cols} matrix, got ${x.length} values`);
  }
  const W = cols + 1;
  const cost = new Float32Array((rows + 1) * W).fill(Infinity);
  const trace = new Int8Array((rows + 1) * W).fill(-1);
  cost[0] = 0;
  for (let j = 1; j <= cols; j++) {
    for (let i = 1; i <= rows; i++) {
      const c0 = cost[(i - 1) * W + j - 1];
      const c1 = cost[(i - 1) * W + j];
      const c2 = cost[i * W + j - 1];
      let c: number;
      let t: number;
      if (c0 < c1 && c0 < c2) {
        c = c0;
        t = 0;
      } else if (c1 < c0 && c1 < c2) {
        c = c1;
        t = 1;
      } else {
        c = c2;
        t = 2;
      }
      cost[i * W + j] = x[(i - 1) * cols + j - 1] + c;
      trace[i * W + j] = t;
    }
  }
  for (let j = 0; j <= cols; j++) trace[j] = 2;
  for (let i = 0; i <= rows; i++) trace[i * W] = 1;

  const text: number[] = [];
  const time: number[] = [];
  let i = rows;
  let j = cols;
  while (i > 0 || j > 0) {
    text.push(i - 1);
    time.push(j - 1);
    const t = trace[i * W + j];
    if (t === 0) {
      i--;
      j--;
    } else if (t === 1) i--;
    else if (t === 2) j--;
    else throw new Error(`unexpected DTW trace value ${t} at (${i}, ${j})`);
  }
  return { textIndices: Int32Array.from(text.reverse()), timeIndices: Int32Array.from(time.reverse()) };
}

/** The token sequence to run through the timestamped decoder for one window (openai `find_alignment`). */
export function timingSequence(
  sotSequence: readonly number[],
  noTimestamps: number,
  textTokens: readonly number[],
  eot: number,
): number[] {
  return [...sotSequence, noTimestamps, ...textTokens, eot];
}

/**
 * Probability of each text token from the decoder's logits over {@link timingSequence}: row
 * `sotLength + k` predicts text token k; the softmax runs over ids below `eot`, as openai's.
 * @param logits [seqLen, vocab] row-major (batch 1).
 */
export function textTokenProbabilities(
  logits: Float32Array,
  vocabSize: number,
  sotLength: number,
  textTokens: readonly number[],
  eot: number,
): number[] {
  return textTokens.map((token, k) => {
    const row = (sotLength + k) * vocabSize;
    let max = -Infinity;
    for (let v = 0; v < eot; v++) max = Math.max(max, logits[row + v]);
    let sum = 0;
    for (let v = 0; v < eot; v++) sum += Math.exp(logits[row + v] - max);
    return Math.exp(logits[row + token] - max) / sum;
  });
}

/**
 * The [textTokens + 1, numFrames // 2] matrix openai runs DTW on (negated): per alignment head, the
 * attention over the window's frames renormalised (= softmax of QK * qkScale), z-normalised over the token
 * axis, median-filtered over frames; averaged over heads; rows from the no-timestamps token to the last
 * text token. `crossAttentions[layer]` is [1, heads, seqLen, frames] post-softmax.
 */
export function alignmentMatrix(
  crossAttentions: readonly FloatTensorLike[],
  alignmentHeads: readonly (readonly [number, number])[],
  sotLength: number,
  numFrames: number,
  options: Pick<WordTimingOptions, 'medianFilterWidth' | 'qkScale'> = DEFAULT_WORD_TIMING,
): { matrix: Float32Array; rows: number; cols: number } {
  if (alignmentHeads.length === 0) throw new RangeError('alignmentHeads is empty');
  const first = crossAttentions[alignmentHeads[0][0]];
  if (!first || first.dims.length !== 4) throw new RangeError('cross attentions must be [1, heads, tokens, frames] per layer');
  const seqLen = first.dims[2];
  const totalFrames = first.dims[3];
  const cols = Math.min(Math.floor(numFrames / 2), totalFrames);
  if (cols < 1) throw new RangeError(`numFrames must be at least 2 mel frames, got ${numFrames}`);
  const rows = seqLen - sotLength - 1;
  const sum = new Float64Array(rows * cols);
  for (const [layer, head] of alignmentHeads) {
    const t = crossAttentions[layer];
    if (!t || t.dims[2] !== seqLen || head >= t.dims[1]) {
      throw new RangeError(`alignment head [${layer}, ${head}] is not in the cross attentions given`);
    }
    if (!(t.data instanceof Float32Array)) throw new RangeError(`cross attentions of layer ${layer} must be float32`);
    const data = t.data;
    const w = new Float64Array(seqLen * cols);
    for (let r = 0; r < seqLen; r++) {
      const base = (head * seqLen + r) * totalFrames;
      let z = 0;
      for (let f = 0; f < cols; f++) {
        const p = options.qkScale === 1 ? data[base + f] : Math.pow(data[base + f], options.qkScale);
        w[r * cols + f] = p;
        z += p;
      }
      for (let f = 0; f < cols; f++) w[r * cols + f] /= z;
    }
    // z-normalise each frame column over the token axis (population std, as torch unbiased=False)
    for (let f = 0; f < cols; f++) {
      let mean = 0;
      for (let r = 0; r < seqLen; r++) mean += w[r * cols + f];
      mean /= seqLen;
      let v = 0;
      for (let r = 0; r < seqLen; r++) v += (w[r * cols + f] - mean) ** 2;
      const std = Math.sqrt(v / seqLen);
      for (let r = 0; r < seqLen; r++) w[r * cols + f] = (w[r * cols + f] - mean) / std;
    }
    const filtered = medianFilter(w, options.medianFilterWidth, cols);
    sum.set(sum.map((s, k) => s + filtered[sotLength * cols + k]));
  }
  const matrix = new Float32Array(rows * cols);
  for (let k = 0; k < matrix.length; k++) matrix[k] = sum[k] / alignmentHeads.length;
  return { matrix, rows, cols };
}

export interface FindAlignmentInput {
  readonly textTokens: readonly number[];
  readonly textTokenProbs: readonly number[];
  readonly crossAttentions: readonly FloatTensorLike[];
  readonly alignmentHeads: readonly (readonly [number, number])[];
  /** Length of the sot sequence (without the no-timestamps token). */
  readonly sotLength: number;
  readonly eot: number;
  /** Mel frames of audio in the window (openai `num_frames`). */
  readonly numFrames: number;
  readonly splitToWordTokens: WordSplitter;
}

/** openai `find_alignment` after the model call: words with times in seconds from the window start. */
export function findAlignment(input: FindAlignmentInput, options: Partial<WordTimingOptions> = {}): WordTiming[] {
  const opts = { ...DEFAULT_WORD_TIMING, ...options };
  const { textTokens, textTokenProbs, eot } = input;
  if (textTokens.length === 0) return [];
  const { matrix, rows, cols } = alignmentMatrix(
    input.crossAttentions, input.alignmentHeads, input.sotLength, input.numFrames, opts,
  );
  const negated = new Float64Array(matrix.length);
  for (let k = 0; k < matrix.length; k++) negated[k] = -matrix[k];
  const { textIndices, timeIndices } = dtw(negated, rows, cols);

  const { words, wordTokens } = input.splitToWordTokens([...textTokens, eot]);
  if (wordTokens.length <= 1) return [];
  const boundaries = [0];
  for (const tokens of wordTokens.slice(0, -1)) boundaries.push(boundaries[boundaries.length - 1] + tokens.length);

  // time of the first path step on each text row
  const jumpTimes: number[] = [];
  for (let k = 0; k < textIndices.length; k++) {
    if (k === 0 || textIndices[k] !== textIndices[k - 1]) jumpTimes.push(timeIndices[k] / ATTENTION_FRAMES_PER_SECOND);
  }
  const out: WordTiming[] = [];
  for (let w = 0; w + 1 < boundaries.length; w++) {
    const [i, j] = [boundaries[w], boundaries[w + 1]];
    let p = 0;
    for (let k = i; k < j; k++) p += textTokenProbs[k];
    out.push({
      word: words[w],
      tokens: [...wordTokens[w]],
      start: jumpTimes[i],
      end: jumpTimes[j],
      probability: j > i ? p / (j - i) : NaN,
    });
  }
  return out;
}

/** openai `merge_punctuations`, in place: punctuation words join their neighbours and are left empty. */
export function mergePunctuations(
  alignment: WordTiming[],
  prepended: string = DEFAULT_WORD_TIMING.prependPunctuations,
  appended: string = DEFAULT_WORD_TIMING.appendPunctuations,
): void {
  // openai tests `x in "..."` on strings: a substring test, so `includes` keeps its semantics.
  let i = alignment.length - 2;
  let j = alignment.length - 1;
  while (i >= 0) {
    const previous = alignment[i];
    const following = alignment[j];
    if (previous.word.startsWith(' ') && prepended.includes(previous.word.trim())) {
      following.word = previous.word + following.word;
      following.tokens = [...previous.tokens, ...following.tokens];
      previous.word = '';
      previous.tokens = [];
    } else {
      j = i;
    }
    i--;
  }
  i = 0;
  j = 1;
  while (j < alignment.length) {
    const previous = alignment[i];
    const following = alignment[j];
    if (!previous.word.endsWith(' ') && appended.includes(following.word)) {
      previous.word = previous.word + following.word;
      previous.tokens = [...previous.tokens, ...following.tokens];
      following.word = '';
      following.tokens = [];
    } else {
      i = j;
    }
    j++;
  }
}


/** One decoded segment as the word timing needs it (openai's segment dict). */
export interface TimedSegmentInput {
  /** Text and timestamp tokens (ids >= eot are ignored). */
  readonly tokens: readonly number[];
  readonly start: number;
  readonly end: number;
}

/** A segment's words and its start/end as openai rewrites them, in seconds of the whole audio. */
export interface TimedSegment {
  start: number;
  end: number;
  words: { word: string; start: number; end: number; probability: number }[];
}

export interface AddWordTimestampsInput extends Omit<FindAlignmentInput, 'textTokens'> {
  /** The window's segments, in order. */
  readonly segments: readonly TimedSegmentInput[];
  /** Seek of the window in mel frames (openai `segments[0]["seek"]`). */
  readonly seekFrames: number;
  /** End of the last word before this window, in seconds (0 at the start). */
  readonly lastSpeechTimestamp: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * openai `add_word_timestamps` for one window: aligns the text tokens of all segments at once, clamps
 * over-long words at sentence and segment boundaries, merges punctuation, and gives each segment its words.
 * Returns one entry per input segment.
 */
export function addWordTimestamps(input: AddWordTimestampsInput, options: Partial<WordTimingOptions> = {}): TimedSegment[] {
  const opts = { ...DEFAULT_WORD_TIMING, ...options };
  const perSegment = input.segments.map((s) => s.tokens.filter((t) => t < input.eot));
  const textTokens = perSegment.flat();
  if (input.textTokenProbs.length !== textTokens.length) {
    throw new RangeError(`textTokenProbs has ${input.textTokenProbs.length} entries for ${textTokens.length} text tokens`);
  }
  const alignment = findAlignment({ ...input, textTokens }, opts);
  const durations = alignment.map((t) => t.end - t.start).filter((d) => d !== 0);
  const medianDuration = Math.min(0.7, durations.length > 0 ? median(durations) : 0);
  const maxDuration = medianDuration * 2;

  // truncate long words at sentence boundaries (openai's "hack", kept for fidelity)
  if (durations.length > 0) {
    const sentenceEndMarks = '.。!！?？';
    for (let i = 1; i < alignment.length; i++) {
      if (alignment[i].end - alignment[i].start > maxDuration) {
        if (sentenceEndMarks.includes(alignment[i].word)) alignment[i].end = alignment[i].start + maxDuration;
        else if (sentenceEndMarks.includes(alignment[i - 1].word)) alignment[i].start = alignment[i].end - maxDuration;
      }
    }
  }
  mergePunctuations(alignment, opts.prependPunctuations, opts.appendPunctuations);

  const timeOffset = (input.seekFrames * HOP_LENGTH) / SAMPLE_RATE;
  let lastSpeech = input.lastSpeechTimestamp;
  let wordIndex = 0;
  return input.segments.map((segment, s) => {
    const out: TimedSegment = { start: segment.start, end: segment.end, words: [] };
    const words = out.words;
    let savedTokens = 0;
    while (wordIndex < alignment.length && savedTokens < perSegment[s].length) {
      const timing = alignment[wordIndex];
      if (timing.word) {
        words.push({
          word: timing.word,
          start: pyRound(timeOffset + timing.start, 2),
          end: pyRound(timeOffset + timing.end, 2),
          probability: timing.probability,
        });
      }
      savedTokens += timing.tokens.length;
      wordIndex++;
    }
    if (words.length > 0) {
      const [first, last] = [words[0], words[words.length - 1]];
      // the first and second word after a pause should not be longer than twice the median
      if (
        first.end - lastSpeech > medianDuration * 4 &&
        (first.end - first.start > maxDuration || (words.length > 1 && words[1].end - first.start > maxDuration * 2))
      ) {
        if (words.length > 1 && words[1].end - words[1].start > maxDuration) {
          const boundary = Math.max(words[1].end / 2, words[1].end - maxDuration);
          first.end = words[1].start = boundary;
        }
        first.start = Math.max(0, first.end - maxDuration);
      }
      // prefer the segment's own start/end when the first/last word is too long
      if (out.start < first.end && out.start - 0.5 > first.start) {
        first.start = Math.max(0, Math.min(first.end - medianDuration, out.start));
      } else {
        out.start = first.start;
      }
      if (out.end > last.start && out.end + 0.5 < last.end) {
        last.end = Math.max(last.start + medianDuration, out.end);
      } else {
        out.end = last.end;
      }
      lastSpeech = out.end;
    }
    return out;
  });
}

/** End of the last word of the last segment with words, else the last segment's end (openai `get_end`). */
export function getEnd(segments: readonly { end: number; words?: readonly { end: number }[] }[]): number | undefined {
  for (let s = segments.length - 1; s >= 0; s--) {
    const words = segments[s].words ?? [];
    if (words.length > 0) return words[words.length - 1].end;
  }
  return segments.length > 0 ? segments[segments.length - 1].end : undefined;
}

/**
 * openai's alignment heads for a model it has no table for: every head of the upper half of the decoder
 * (`model.alignment_heads` before `set_alignment_heads`). Official checkpoints use the `_ALIGNMENT_HEADS`
 * table, which HF copies into generation_config.json `alignment_heads`; the shared random fixture's oracle
 * was made with this default, not with its generation_config.json.
 */
export function defaultAlignmentHeads(decoderLayers: number, heads: number): [number, number][] {
  const out: [number, number][] = [];
  for (let layer = Math.floor(decoderLayers / 2); layer < decoderLayers; layer++) {
    for (let head = 0; head < heads; head++) out.push([layer, head]);
  }
  return out;
}

/**
 * Checks that a decoder session outputs `cross_attentions.{i}` for every layer, else fails with a message
 * naming the timestamped export to use instead.
 */
export function requireCrossAttentions(outputNames: readonly string[], decoderLayers: number, modelPath: string): void {
  const missing = Array.from({ length: decoderLayers }, (_, i) => `cross_attentions.${i}`).filter((n) => !outputNames.includes(n));
  if (missing.length > 0) {
    throw new MoxingError(
      'MODEL_INVALID',
      `${modelPath} has no ${missing[0]} output, which word timestamps need: use the timestamped decoder ` +
        '(onnx/decoder_model_merged_timestamped.onnx, e.g. from an onnx-community "…_timestamped" repo; ' +
        '`moxing pull MODEL --timestamped` fetches it) or drop --word-timestamps',
    );
  }
}
