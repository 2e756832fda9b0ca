/**
 * Streaming sample-rate conversion by a Kaiser-windowed sinc (band-limited interpolation, as resampy / soxr do).
 * The rate ratio is reduced to L/M; output sample n sits at input time n·M/L, whose fractional part is one of L
 * phases. Up to MAX_EXACT_PHASES the filter is tabulated per phase exactly; beyond that (odd rates such as 44099 Hz)
 * a table of MAX_EXACT_PHASES phases is interpolated linearly, an error far below 16-bit noise.
 * Chunked input gives exactly the same output as one call on the whole signal.
 */

export interface ResampleOptions {
  /**
   * Zero crossings of the sinc on each side, at the lower of the two rates. More is sharper and slower.
   * @default 32
   */
  readonly zeroCrossings?: number;
  /**
   * Cut-off as a fraction of the lower Nyquist frequency (0.95 of 8 kHz = 7.6 kHz at 16 kHz output).
   * @default 0.95
   */
  readonly rolloff?: number;
  /**
   * Kaiser window β: the stop-band attenuation (about 90 dB at 9).
   * @default 9
   */
  readonly kaiserBeta?: number;
}

export const DEFAULT_RESAMPLE: Readonly<Required<ResampleOptions>> = Object.freeze({
  zeroCrossings: 32,
  rolloff: 0.95,
  kaiserBeta: 9,
});

const MAX_EXACT_PHASES = 1024;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Modified Bessel function of the first kind, order 0 (power series; converges fast for β < 20). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 200; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** ceil(a / b) for non-negative integers whose products stay below 2^53, exact where the float quotient is not. */
function ceilDiv(a: number, b: number): number {
  let q = Math.ceil(a / b);
  while (q * b < a) q++;
  while (q > 0 && (q - 1) * b >= a) q--;
  return q;
}

/** A stateful resampler: feed blocks to `process`, then call `flush` once at the end. */
export class Resampler {
  readonly inRate: number;
  readonly outRate: number;
  private readonly up: number; // L
  private readonly down: number; // M
  private readonly taps: number; // 2K coefficients per phase
  private readonly half: number; // K
  private readonly phases: number;
  private readonly table: Float32Array; // [(phases + 1), taps]
  private buffer: Float32Array;
  private bufferLength = 0;
  /** Absolute input index of buffer[0] (negative at first: the signal is preceded by zeros). */
  private bufferStart: number;
  private inputCount = 0;
  private outputCount = 0;
  private flushed = false;

  constructor(inRate: number, outRate: number, options: ResampleOptions = {}) {
    if (!(Number.isInteger(inRate) && inRate > 0 && Number.isInteger(outRate) && outRate > 0)) {
      throw new RangeError(`sample rates must be positive integers, got ${inRate} -> ${outRate}`);
    }
    const { zeroCrossings, rolloff, kaiserBeta } = { ...DEFAULT_RESAMPLE, ...options };
    this.inRate = inRate;
    this.outRate = outRate;
    const g = gcd(inRate, outRate);
    this.up = outRate / g;
    this.down = inRate / g;
    // Cut-off in cycles per input sample, and the kernel half-length in input samples.
    const scale = Math.min(1, this.up / this.down);
    const cutoff = 0.5 * rolloff * scale;
    const halfLength = zeroCrossings / scale;
    this.half = Math.ceil(halfLength);
    this.taps = 2 * this.half;
    this.phases = Math.min(this.up, MAX_EXACT_PHASES);
    this.table = new Float32Array((this.phases + 1) * this.taps);
    const i0Beta = besselI0(kaiserBeta);
    for (let r = 0; r <= this.phases; r++) {
      const frac = r / this.phases;
      for (let j = 0; j < this.taps; j++) {
        // Tap j multiplies input i0 - K + 1 + j, at distance t from the output instant.
        const t = frac + this.half - 1 - j;
        let h = 0;
        if (Math.abs(t) < halfLength) {
          const x = 2 * cutoff * t;
          const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
          const ratio = t / halfLength;
          h = 2 * cutoff * sinc * (besselI0(kaiserBeta * Math.sqrt(1 - ratio * ratio)) / i0Beta);
        }
        this.table[r * this.taps + j] = h;
      }
    }
    this.buffer = new Float32Array(Math.max(4096, 2 * this.taps));
    // K zeros of history before the first sample (output 0 reads the last K - 1 of them).
    this.bufferLength = this.half;
    this.bufferStart = -this.half;
  }

  /** Resamples the next block; returns the output samples that are already determined. */
  process(input: Float32Array): Float32Array {
    if (this.flushed) throw new Error('Resampler.process called after flush');
    if (this.up === this.down) {
      this.inputCount += input.length;
      return input.slice();
    }
    this.append(input);
    this.inputCount += input.length;
    return this.produce(this.inputCount);
  }

  /** Ends the stream: returns the remaining samples, ceil(inputs · outRate / inRate) in all. */
  flush(): Float32Array {
    if (this.flushed) return new Float32Array(0);
    this.flushed = true;
    if (this.up === this.down) return new Float32Array(0);
    this.append(new Float32Array(this.half + 1));
    return this.produce(this.inputCount);
  }

  private append(input: Float32Array): void {
    if (this.bufferLength + input.length > this.buffer.length) {
      const grown = new Float32Array(Math.max(2 * this.buffer.length, this.bufferLength + input.length));
      grown.set(this.buffer.subarray(0, this.bufferLength));
      this.buffer = grown;
    }
    this.buffer.set(input, this.bufferLength);
    this.bufferLength += input.length;
  }

  /**
   * Computes every output whose input instant is before `limit` and whose taps are all in the buffer, into an
   * array of exactly that length: the count is known up front, so nothing grows (a 1 kHz input makes 16
   * outputs per input sample).
   */
  private produce(limit: number): Float32Array {
    const { up, down, half, taps, phases, table, buffer } = this;
    const available = this.bufferStart + this.bufferLength; // one past the last buffered input index
    // Output n needs inputs up to i0 + K, where i0 = floor(n·M/L), and exists only while i0 < total inputs:
    // every n with i0 <= last qualifies, which is every n < ceil((last + 1)·L/M).
    const last = Math.min(available - 1 - half, limit - 1);
    const end = last < 0 ? 0 : ceilDiv((last + 1) * up, down);
    const start = this.outputCount;
    const out = new Float32Array(Math.max(0, end - start));
    for (let n = start; n < end; n++) {
      const pos = n * down;
      const i0 = Math.floor(pos / up);
      const p = pos - i0 * up;
      const base = i0 - half + 1 - this.bufferStart;
      let acc = 0;
      if (phases === up) {
        const row = p * taps;
        for (let j = 0; j < taps; j++) acc += buffer[base + j] * table[row + j];
      } else {
        const at = (p * phases) / up;
        const r = Math.floor(at);
        const w = at - r;
        const row0 = r * taps;
        const row1 = row0 + taps;
        for (let j = 0; j < taps; j++) {
          acc += buffer[base + j] * (table[row0 + j] + w * (table[row1 + j] - table[row0 + j]));
        }
      }
      out[n - start] = acc;
    }
    const n = Math.max(start, end);
    this.outputCount = n;
    // Drop inputs no later output can reach: the next one starts at floor(n·M/L) - K + 1.
    const keepFrom = Math.floor((n * down) / up) - half + 1 - this.bufferStart;
    if (keepFrom > 0) {
      this.buffer.copyWithin(0, keepFrom, this.bufferLength);
      this.bufferLength -= keepFrom;
      this.bufferStart += keepFrom;
    }
    return out;
  }
}

/** Resamples a whole signal at once (same output as a Resampler fed in blocks). */
export function resample(samples: Float32Array, inRate: number, outRate: number, options: ResampleOptions = {}): Float32Array {
  if (inRate === outRate) return samples;
  const r = new Resampler(inRate, outRate, options);
  const a = r.process(samples);
  const b = r.flush();
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
