/**
 * `moxing vad FILE`: the speech regions Silero VAD finds, one `start --> end` line each (seconds), or JSON with
 * samples and seconds. The options default to DEFAULT_VAD, the values `transcribe --vad` uses.
 */
import type { Command } from 'commander';
import { decodeAudio, DEFAULT_VAD, detectSpeech, SAMPLE_RATE } from '../audio/index.js';
import { ALLOW_TRUNCATED_FLAG, audioInput, type AudioInputCliOptions } from './audio-input.js';
import { parseNumber } from './options.js';

interface VadCliOptions extends AudioInputCliOptions {
  json: boolean;
  threshold: number;
  minSpeechMs: number;
  minSilenceMs: number;
  maxSpeechS: number;
  speechPadMs: number;
}

export function register(program: Command): void {
  program
    .command('vad')
    .description('find speech regions in an audio/video file with Silero VAD v5 (faster-whisper rules)')
    .argument('<file>', 'audio or video file (WAV natively, anything else through ffmpeg)')
    .option('--json', 'print JSON: {durationS, regions: [{start, end, startS, endS}]} (start/end in 16 kHz samples)', false)
    .option('--threshold <p>', 'speech probability threshold', parseNumber('--threshold', 0, 1), DEFAULT_VAD.threshold)
    .option('--min-speech-ms <ms>', 'drop regions shorter than this', parseNumber('--min-speech-ms', 0), DEFAULT_VAD.minSpeechMs)
    .option('--min-silence-ms <ms>', 'silence that ends a region', parseNumber('--min-silence-ms', 0), DEFAULT_VAD.minSilenceMs)
    .option('--max-speech-s <s>', 'split regions longer than this', parseNumber('--max-speech-s', 0.1), DEFAULT_VAD.maxSpeechS)
    .option('--speech-pad-ms <ms>', 'padding on each side of a region', parseNumber('--speech-pad-ms', 0), DEFAULT_VAD.speechPadMs)
    .option(...ALLOW_TRUNCATED_FLAG)
    .action(async (file: string, options: VadCliOptions) => {
      const { json, allowTruncated, ...vadOptions } = options;
      const samples = await decodeAudio(file, audioInput(file, { allowTruncated }));
      const regions = await detectSpeech(samples, vadOptions);
      if (json) {
        process.stdout.write(`${JSON.stringify({ durationS: samples.length / SAMPLE_RATE, regions }, null, 2)}\n`);
        return;
      }
      for (const r of regions) process.stdout.write(`${r.startS.toFixed(3)} --> ${r.endS.toFixed(3)}\n`);
      const speechS = regions.reduce((n, r) => n + r.endS - r.startS, 0);
      process.stderr.write(`${regions.length} regions, ${speechS.toFixed(1)} s of speech in ${(samples.length / SAMPLE_RATE).toFixed(1)} s\n`);
    });
}
