/**
 * Whisper's log-mel front end, exactly as openai/whisper `audio.log_mel_spectrogram`:
 * reflect padding of N_FFT/2 on both sides (torch.stft center=True), periodic Hann window, a true 400-point FFT
 * every 160 samples, power spectrum, last frame dropped, slaney mel filters, log10(clamp 1e-10),
 * max(x, max - 8), (x + 4) / 4.
 *
 * Arithmetic is float64 (torch uses float32): the result differs from openai's by float32 rounding only.
 */
import { HOP_LENGTH, N_FFT, N_FRAMES, N_SAMPLES, type MelBins } from './constants.js';
import { createFft } from './fft.js';
import { melFilters } from './mel-filters.js';

/** A log-mel spectrogram, row-major [nMels, nFrames]. */
export interface LogMel {
  readonly data: Float32Array;
  readonly nMels: number;
  readonly nFrames: number;
}

export interface LogMelOptions {
  /**
   * Zero samples appended to the audio before the transform, as whisper's `padding` argument
   * (transcribe passes N_SAMPLES so that the last window is complete).
   * @default 0
   */
  readonly padding?: number;
}

export const DEFAULT_LOG_MEL: Readonly<Required<LogMelOptions>> = Object.freeze({ padding: 0 });

const HALF = N_FFT / 2;
const N_BINS = HALF + 1;

// torch.hann_window(400) (periodic), in float32 as torch holds it.
const WINDOW = Float64Array.from({ length: N_FFT }, (_, n) => Math.fround(0.5 - 0.5 * Math.cos((2 * Math.PI * n) / N_FFT)));

const fft = createFft(N_FFT);

/**
 * Pads with zeros or trims `samples` to `length` (default N_SAMPLES = 30 s), as whisper's `pad_or_trim`.
 * Returns the input itself when it already has that length.
 */
export function padOrTrim(samples: Float32Array, length: number = N_SAMPLES): Float32Array {
  if (samples.length === length) return samples;
  if (samples.length > length) return samples.subarray(0, length);
  const out = new Float32Array(length);
  out.set(samples);
  return out;
}

/**
 * The log-mel spectrogram of `samples` (16 kHz mono), [nMels, floor((samples.length + padding) / 160)].
 * For one model window, pass `padOrTrim(audio)` (30 s → 3000 frames), as openai does.
 * For long-form transcription, pass the whole audio with `{ padding: N_SAMPLES }` and cut windows with
 * `melWindow`: the padding is virtual (never allocated) and memory is O(nFrames · nMels).
 */
export function logMelSpectrogram(samples: Float32Array, nMels: MelBins, options: LogMelOptions = {}): LogMel {
  const padding = options.padding ?? DEFAULT_LOG_MEL.padding;
  if (!Number.isInteger(padding) || padding < 0) throw new RangeError(`padding must be a non-negative integer, got ${padding}`);
  const bank = melFilters(nMels);
  const total = samples.length + padding;
  const nFrames = Math.floor(total / HOP_LENGTH);
  const data = new Float32Array(nMels * nFrames);
  if (nFrames === 0) return { data, nMels, nFrames };

  const re = new Float64Array(N_FFT);
  const im = new Float64Array(N_FFT);
  const powerA = new Float64Array(N_BINS);
  const powerB = new Float64Array(N_BINS);
  const len = samples.length;
  // Frames whose 400 samples all lie inside the real audio read it directly; the others go through `at`.
  const at = (j: number): number => {
    const k = reflect(j, total);
    return k < len ? samples[k] : 0;
  };

  // Two real frames per complex FFT: frame a in the real part, frame b in the imaginary part.
  for (let f = 0; f < nFrames; f += 2) {
    const hasB = f + 1 < nFrames;
    fillFrame(re, samples, f * HOP_LENGTH - HALF, len, at);
    if (hasB) fillFrame(im, samples, (f + 1) * HOP_LENGTH - HALF, len, at);
    else im.fill(0);
    fft.transform(re, im);
    // Z = A + iB, so A[k] = (Z[k] + conj Z[N-k]) / 2 and B[k] = (Z[k] - conj Z[N-k]) / 2i.
    for (let k = 0; k < N_BINS; k++) {
      const nk = k === 0 ? 0 : N_FFT - k;
      const zr = re[k], zi = im[k], cr = re[nk], ci = im[nk];
      const ar = zr + cr, ai = zi - ci, br = zi + ci, bi = cr - zr;
      powerA[k] = 0.25 * (ar * ar + ai * ai);
      powerB[k] = 0.25 * (br * br + bi * bi);
    }
    applyFilters(bank.weights, bank.start, bank.end, nMels, powerA, data, f, nFrames);
    if (hasB) applyFilters(bank.weights, bank.start, bank.end, nMels, powerB, data, f + 1, nFrames);
  }

  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = Math.log10(data[i] > 1e-10 ? data[i] : 1e-10);
    data[i] = v;
    if (v > max) max = v;
  }
  const floor = max - 8;
  for (let i = 0; i < data.length; i++) data[i] = ((data[i] > floor ? data[i] : floor) + 4) / 4;
  return { data, nMels, nFrames };
}

/** Index into a signal of length n under torch's reflect padding (mirrored without repeating the edge). */
function reflect(j: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let k = j % period;
  if (k < 0) k += period;
  return k < n ? k : period - k;
}

function fillFrame(
  out: Float64Array,
  samples: Float32Array,
  begin: number,
  len: number,
  at: (j: number) => number,
): void {
  if (begin >= 0 && begin + N_FFT <= len) {
    for (let n = 0; n < N_FFT; n++) out[n] = samples[begin + n] * WINDOW[n];
  } else {
    for (let n = 0; n < N_FFT; n++) out[n] = at(begin + n) * WINDOW[n];
  }
}

function applyFilters(
  weights: Float32Array,
  start: Int32Array,
  end: Int32Array,
  nMels: number,
  power: Float64Array,
  out: Float32Array,
  frame: number,
  nFrames: number,
): void {
  for (let m = 0; m < nMels; m++) {
    const row = m * N_BINS;
    let sum = 0;
    for (let k = start[m]; k < end[m]; k++) sum += weights[row + k] * power[k];
    out[m * nFrames + frame] = sum;
  }
}

/**
 * The [nMels, N_FRAMES] model input at frame `offset` of a longer log-mel, zero-padded past its end,
 * as openai's transcribe does with `pad_or_trim(mel[:, seek:seek + segment_size], N_FRAMES)`.
 * `frames` (default N_FRAMES) limits how many frames are taken before padding (whisper's segment_size).
 */
export function melWindow(mel: LogMel, offset: number, frames: number = N_FRAMES): LogMel {
  if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`offset must be a non-negative integer, got ${offset}`);
  const take = Math.max(0, Math.min(frames, N_FRAMES, mel.nFrames - offset));
  const data = new Float32Array(mel.nMels * N_FRAMES);
  for (let m = 0; m < mel.nMels; m++) {
    const from = m * mel.nFrames + offset;
    data.set(mel.data.subarray(from, from + take), m * N_FRAMES);
  }
  return { data, nMels: mel.nMels, nFrames: N_FRAMES };
}
