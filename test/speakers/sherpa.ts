/** sherpa-onnx-node's diarization of raw float32 files, run in a child process (see sherpa-child.mjs). */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./sherpa-child.mjs', import.meta.url));

export interface SherpaJob {
  segmentation: string;
  embedding: string;
  /** Paths of little-endian float32 16 kHz samples. */
  audio: string[];
  windowStep: number;
  numClusters?: number;
  threshold?: number;
  minDurationOn: number;
  minDurationOff: number;
}

export interface SherpaResult {
  seconds: number;
  segments: { start: number; end: number; speaker: number }[];
}

export function runSherpa(job: SherpaJob): Promise<{ sampleRate: number; results: SherpaResult[] }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CHILD, JSON.stringify(job)], { maxBuffer: 64 << 20, timeout: 600_000 }, (error, stdout, stderr) => {
      if (error) {
        const signal = (error as { signal?: string }).signal;
        reject(new Error(`sherpa-onnx child failed${signal ? ` (${signal})` : ''}: ${error.message}\n${stderr.slice(-2000)}`));
        return;
      }
      resolve(JSON.parse(stdout) as { sampleRate: number; results: SherpaResult[] });
    });
  });
}
