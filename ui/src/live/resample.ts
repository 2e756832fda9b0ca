/**
 * The microphone's float samples at the AudioContext's rate (44.1 or 48 kHz) as pcm16 at the rate the realtime
 * socket takes (24 kHz, as OpenAI's clients send it). Going down, each output sample is the mean of the input
 * it covers (a box filter: 48 → 24 kHz averages pairs, which keeps aliasing out of the speech band); going up,
 * linear interpolation. State carries across calls, so the 128-sample render quanta join seamlessly.
 */
export class Pcm16Resampler {
  /** Input samples per output sample. */
  private readonly ratio: number;
  private sum = 0;
  private filled = 0;
  private previous = 0;
  private phase = 0;

  constructor(inputRate: number, outputRate: number) {
    if (!(inputRate > 0) || !(outputRate > 0)) throw new Error(`sample rates must be positive, got ${inputRate} → ${outputRate}`);
    this.ratio = inputRate / outputRate;
  }

  push(input: Float32Array): Int16Array {
    const out: number[] = [];
    if (this.ratio >= 1) {
      for (const x of input) {
        let remaining = 1;
        while (remaining > 1e-9) {
          const take = Math.min(this.ratio - this.filled, remaining);
          this.sum += x * take;
          this.filled += take;
          remaining -= take;
          if (this.filled >= this.ratio - 1e-9) {
            out.push(this.sum / this.ratio);
            this.sum = 0;
            this.filled = 0;
          }
        }
      }
    } else {
      for (const x of input) {
        while (this.phase <= 1) {
          out.push(this.previous + (x - this.previous) * this.phase);
          this.phase += this.ratio;
        }
        this.phase -= 1;
        this.previous = x;
      }
    }
    return toPcm16(out);
  }
}

/** Floats in [-1, 1] as little-endian 16-bit integers (clipped). */
export function toPcm16(samples: ArrayLike<number>): Int16Array {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = Math.round(Math.max(-1, Math.min(1, samples[i])) * 32767);
  return out;
}

/** Bytes as base64, as `input_audio_buffer.append` carries them. */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(binary);
}
