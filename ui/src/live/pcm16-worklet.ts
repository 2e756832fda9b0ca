/**
 * The AudioWorklet that turns the microphone into pcm16 at 24 kHz: it resamples each render quantum and posts
 * the samples to the page every CHUNK_MS, as an Int16Array whose buffer is transferred.
 */
import { Pcm16Resampler } from './resample.js';

// The worklet scope's globals, which TypeScript's DOM library does not describe.
declare const sampleRate: number;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
}
declare function registerProcessor(name: string, processor: new () => AudioWorkletProcessor): void;

export const OUTPUT_RATE = 24_000;
const CHUNK_MS = 100;
const CHUNK_SAMPLES = (OUTPUT_RATE * CHUNK_MS) / 1000;

class Pcm16Processor extends AudioWorkletProcessor {
  private readonly resampler = new Pcm16Resampler(sampleRate, OUTPUT_RATE);
  private pending: Int16Array[] = [];
  private pendingSamples = 0;

  process(inputs: Float32Array[][]): boolean {
    const channel = inputs[0]?.[0];
    if (channel) {
      const samples = this.resampler.push(channel);
      this.pending.push(samples);
      this.pendingSamples += samples.length;
      if (this.pendingSamples >= CHUNK_SAMPLES) this.flush();
    }
    return true;
  }

  private flush(): void {
    const chunk = new Int16Array(this.pendingSamples);
    let at = 0;
    for (const part of this.pending) {
      chunk.set(part, at);
      at += part.length;
    }
    this.pending = [];
    this.pendingSamples = 0;
    this.port.postMessage(chunk, [chunk.buffer]);
  }
}

registerProcessor('pcm16', Pcm16Processor);
