/**
 * Slaney-normalised mel filter banks, computed the way librosa.filters.mel(sr=16000, n_fft=400, n_mels, htk=False,
 * norm='slaney') does, which is how openai/whisper made its `mel_filters.npz`. Computing them (instead of shipping
 * the ~160 KB of tables) costs well under a millisecond; a test checks them against openai's asset.
 */
import { N_FFT, SAMPLE_RATE } from './constants.js';

/** A mel filter bank, row-major [nMels, nFft/2 + 1], float32 as in openai's asset. */
export interface MelFilterBank {
  readonly nMels: number;
  /** nFft / 2 + 1 = 201 frequency bins. */
  readonly nBins: number;
  readonly weights: Float32Array;
  /** Per mel row, the first and one-past-last bin with a non-zero weight (rows are sparse triangles). */
  readonly start: Int32Array;
  readonly end: Int32Array;
}

// Slaney's mel scale: linear below 1 kHz, logarithmic above.
const F_SP = 200 / 3;
const MIN_LOG_HZ = 1000;
const MIN_LOG_MEL = MIN_LOG_HZ / F_SP;
const LOG_STEP = Math.log(6.4) / 27;

function hzToMel(hz: number): number {
  return hz >= MIN_LOG_HZ ? MIN_LOG_MEL + Math.log(hz / MIN_LOG_HZ) / LOG_STEP : hz / F_SP;
}

function melToHz(mel: number): number {
  return mel >= MIN_LOG_MEL ? MIN_LOG_HZ * Math.exp(LOG_STEP * (mel - MIN_LOG_MEL)) : F_SP * mel;
}

const cache = new Map<number, MelFilterBank>();

/**
 * The slaney mel filter bank for `nMels` bins over 0..8 kHz (16 kHz audio, 400-point FFT).
 * Cached per nMels; the returned arrays must not be modified.
 */
export function melFilters(nMels: number, sampleRate = SAMPLE_RATE, nFft = N_FFT): MelFilterBank {
  if (!Number.isInteger(nMels) || nMels < 1) throw new RangeError(`nMels must be a positive integer, got ${nMels}`);
  const key = nMels * 1e9 + sampleRate * 1e3 + nFft;
  const hit = cache.get(key);
  if (hit) return hit;

  const nBins = Math.floor(nFft / 2) + 1;
  // np.fft.rfftfreq: bin k is at k·sr/nFft Hz.
  const fftFreqs = Float64Array.from({ length: nBins }, (_, k) => (k * sampleRate) / nFft);
  // nMels + 2 points equally spaced in mel between 0 Hz and Nyquist (np.linspace semantics).
  const maxMel = hzToMel(sampleRate / 2);
  // np.linspace computes i·step + start, and sets the last point to exactly the stop value.
  const melStep = maxMel / (nMels + 1);
  const melF = Float64Array.from({ length: nMels + 2 }, (_, i) => melToHz(i === nMels + 1 ? maxMel : i * melStep));

  const weights = new Float32Array(nMels * nBins);
  const start = new Int32Array(nMels);
  const end = new Int32Array(nMels);
  for (let i = 0; i < nMels; i++) {
    const lowDiff = melF[i + 1] - melF[i];
    const highDiff = melF[i + 2] - melF[i + 1];
    const enorm = 2 / (melF[i + 2] - melF[i]);
    let first = -1;
    let last = -1;
    for (let k = 0; k < nBins; k++) {
      const lower = (fftFreqs[k] - melF[i]) / lowDiff;
      const upper = (melF[i + 2] - fftFreqs[k]) / highDiff;
      // librosa stores the triangle in float32, then scales by enorm (in float64, rounded back to float32).
      const w = Math.fround(Math.fround(Math.max(0, Math.min(lower, upper))) * enorm);
      weights[i * nBins + k] = w;
      if (w !== 0) {
        if (first < 0) first = k;
        last = k;
      }
    }
    start[i] = first < 0 ? 0 : first;
    end[i] = first < 0 ? 0 : last + 1;
  }
  const bank: MelFilterBank = { nMels, nBins, weights, start, end };
  cache.set(key, bank);
  return bank;
}
