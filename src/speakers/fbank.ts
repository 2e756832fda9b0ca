/**
 * Kaldi-compatible log mel filterbanks, as `torchaudio.compliance.kaldi.fbank` and kaldi-native-fbank compute
 * them: the front end of the WeSpeaker and 3D-Speaker embedding models.
 *
 * Per frame: remove the DC offset, pre-emphasis, window (povey by default), zero-pad to a power of two, power
 * spectrum, triangular mel bins on Kaldi's mel scale (1127·ln(1 + f/700), FFT bins below Nyquist), natural log
 * floored at float32 epsilon. `snipEdges: false` is kaldi-native-fbank's streaming layout (what sherpa-onnx
 * feeds the speaker models): frames centred every shift, the edges mirrored.
 */
import { createFft } from '../audio/fft.js';
import { withDefaults } from '../defaults.js';
import { MoxingError } from '../errors.js';

export type KaldiWindow = 'povey' | 'hamming' | 'hanning' | 'rectangular';

export interface FbankOptions {
  /** @default 16000 */
  sampleRate: number;
  /** @default 80 */
  numMelBins: number;
  /** @default 25 */
  frameLengthMs: number;
  /** @default 10 */
  frameShiftMs: number;
  /** @default 0.97 */
  preemphasis: number;
  /** @default true */
  removeDcOffset: boolean;
  /** @default 'povey' */
  window: KaldiWindow;
  /** true: only whole frames inside the audio (torchaudio's default); false: kaldi-native-fbank's centred frames. @default true */
  snipEdges: boolean;
  /** Lowest mel frequency, Hz. @default 20 */
  lowFreq: number;
  /** Highest mel frequency, Hz; 0 or negative is an offset from Nyquist (sherpa-onnx uses -400). @default 0 */
  highFreq: number;
  /** Samples are multiplied by this first: 32768 for models trained on int16-range audio. @default 1 */
  scale: number;
}

export const DEFAULT_FBANK: Readonly<FbankOptions> = Object.freeze({
  sampleRate: 16000,
  numMelBins: 80,
  frameLengthMs: 25,
  frameShiftMs: 10,
  preemphasis: 0.97,
  removeDcOffset: true,
  window: 'povey',
  snipEdges: true,
  lowFreq: 20,
  highFreq: 0,
  scale: 1,
});

/** Frames × bins log mel energies, row-major. */
export interface Fbank {
  readonly frames: number;
  readonly bins: number;
  readonly data: Float32Array;
}

const FLOAT32_EPSILON = 1.1920928955078125e-7;

interface Plan {
  readonly options: FbankOptions;
  readonly length: number;
  readonly shift: number;
  readonly padded: number;
  readonly window: Float64Array;
  /** Per mel bin: first FFT bin and its weights. */
  readonly banks: { start: number; weights: Float64Array }[];
}

const plans = new Map<string, Plan>();

function melScale(hz: number): number {
  return 1127 * Math.log(1 + hz / 700);
}

function windowFunction(kind: KaldiWindow, length: number): Float64Array {
  const w = new Float64Array(length);
  const a = (2 * Math.PI) / (length - 1);
  for (let i = 0; i < length; i++) {
    if (kind === 'povey') w[i] = Math.pow(0.5 - 0.5 * Math.cos(a * i), 0.85);
    else if (kind === 'hanning') w[i] = 0.5 - 0.5 * Math.cos(a * i);
    else if (kind === 'hamming') w[i] = 0.54 - 0.46 * Math.cos(a * i);
    else w[i] = 1;
  }
  return w;
}

function planFor(options: FbankOptions): Plan {
  const key = JSON.stringify(options);
  const found = plans.get(key);
  if (found) return found;
  const { sampleRate, numMelBins, lowFreq } = options;
  const length = Math.round((sampleRate * options.frameLengthMs) / 1000);
  const shift = Math.round((sampleRate * options.frameShiftMs) / 1000);
  if (!(length > 1) || !(shift > 0) || !(numMelBins > 0)) {
    throw new MoxingError('BAD_ARGUMENT', `fbank: frame length ${length}, shift ${shift} and ${numMelBins} mel bins must all be positive`);
  }
  const padded = 2 ** Math.ceil(Math.log2(length));
  const nyquist = sampleRate / 2;
  const highFreq = options.highFreq > 0 ? options.highFreq : nyquist + options.highFreq;
  if (!(lowFreq >= 0 && lowFreq < highFreq && highFreq <= nyquist)) {
    throw new MoxingError('BAD_ARGUMENT', `fbank: need 0 <= lowFreq (${lowFreq}) < highFreq (${highFreq}) <= Nyquist (${nyquist})`);
  }
  const melLow = melScale(lowFreq);
  const melDelta = (melScale(highFreq) - melLow) / (numMelBins + 1);
  const binWidth = sampleRate / padded;
  const banks: Plan['banks'] = [];
  for (let m = 0; m < numMelBins; m++) {
    const left = melLow + m * melDelta;
    const center = left + melDelta;
    const right = center + melDelta;
    const weights: number[] = [];
    let start = -1;
    for (let k = 0; k < padded / 2; k++) {
      const mel = melScale(binWidth * k);
      if (mel > left && mel < right) {
        if (start < 0) start = k;
        weights[k - start] = mel <= center ? (mel - left) / (center - left) : (right - mel) / (right - center);
      }
    }
    banks.push({ start: Math.max(start, 0), weights: Float64Array.from(weights) });
  }
  const plan: Plan = { options, length, shift, padded, window: windowFunction(options.window, length), banks };
  plans.set(key, plan);
  return plan;
}

/** How many frames `samples` samples give. */
export function fbankFrameCount(samples: number, options: Partial<FbankOptions> = {}): number {
  const plan = planFor(withDefaults(DEFAULT_FBANK, options));
  if (plan.options.snipEdges) return samples < plan.length ? 0 : 1 + Math.floor((samples - plan.length) / plan.shift);
  return Math.floor((samples + Math.floor(plan.shift / 2)) / plan.shift);
}

/** Kaldi fbank of 16 kHz (or `sampleRate`) mono samples. */
export function kaldiFbank(samples: Float32Array, options: Partial<FbankOptions> = {}): Fbank {
  const plan = planFor(withDefaults(DEFAULT_FBANK, options));
  const { length, shift, padded, window, banks } = plan;
  const { scale, preemphasis, removeDcOffset, snipEdges, numMelBins } = plan.options;
  const frames = fbankFrameCount(samples.length, plan.options);
  const data = new Float32Array(frames * numMelBins);
  const fft = createFft(padded);
  const re = new Float64Array(padded);
  const im = new Float64Array(padded);
  const frame = new Float64Array(length);
  const power = new Float64Array(padded / 2 + 1);
  const n = samples.length;
  for (let f = 0; f < frames; f++) {
    const first = snipEdges ? f * shift : f * shift + Math.floor(shift / 2) - Math.floor(length / 2);
    let mean = 0;
    for (let i = 0; i < length; i++) {
      let s = first + i;
      // kaldi-native-fbank mirrors the edges when frames reach outside the audio
      if (s < 0) s = -s - 1;
      if (s >= n) s = 2 * n - 1 - s;
      frame[i] = samples[Math.min(Math.max(s, 0), n - 1)] * scale;
      mean += frame[i];
    }
    if (removeDcOffset) {
      mean /= length;
      for (let i = 0; i < length; i++) frame[i] -= mean;
    }
    if (preemphasis !== 0) {
      for (let i = length - 1; i > 0; i--) frame[i] -= preemphasis * frame[i - 1];
      frame[0] -= preemphasis * frame[0];
    }
    re.fill(0);
    im.fill(0);
    for (let i = 0; i < length; i++) re[i] = frame[i] * window[i];
    fft.transform(re, im);
    for (let k = 0; k <= padded / 2; k++) power[k] = re[k] * re[k] + im[k] * im[k];
    const row = f * numMelBins;
    for (let m = 0; m < numMelBins; m++) {
      const { start, weights } = banks[m];
      let energy = 0;
      for (let j = 0; j < weights.length; j++) energy += weights[j] * power[start + j];
      data[row + m] = Math.log(Math.max(energy, FLOAT32_EPSILON));
    }
  }
  return { frames, bins: numMelBins, data };
}
