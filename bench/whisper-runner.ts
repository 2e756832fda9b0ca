/**
 * One runner of bench/whisper.ts, in its own process: `tsx bench/whisper-runner.ts <runner> <modelDir> <wav> <tokensPerWindow> <repeats>`.
 * Both runners get the same 16 kHz samples and force the same work: English, no timestamps, exactly
 * `tokensPerWindow` tokens per 30 s window (end-of-text suppressed until then), one window after another.
 */
import { basename, dirname } from 'node:path';
import { decodeAudio } from '../src/audio/index.js';
import { WhisperModel, transcribe } from '../src/asr/whisper/index.js';
import { loadWhisperTokenizer } from '../src/text/index.js';
import { emitReport, minTime, peakRssBytes } from './lib.js';

const [runner, modelDir, wav, tokensArg, repeatsArg] = process.argv.slice(2);
const tokensPerWindow = Number(tokensArg);
const repeats = Number(repeatsArg);
const samples = await decodeAudio(wav);
const windows = Math.ceil(samples.length / 480_000);

async function moxing(): Promise<Record<string, number>> {
  const model = await WhisperModel.load(modelDir);
  const eot = (await loadWhisperTokenizer(modelDir)).eot;
  let tokens = 0;
  const wallMs = await minTime(repeats, async () => {
    const result = await transcribe(samples, {
      model,
      language: 'en',
      temperature: 0,
      withoutTimestamps: true,
      conditionOnPreviousText: false,
      suppressTokens: [-1, eot],
      sampleLen: tokensPerWindow,
      compressionRatioThreshold: null,
      logprobThreshold: null,
      noSpeechThreshold: null,
    });
    tokens = result.segments.reduce((n, s) => n + s.tokens.length, 0);
  });
  return { wallMs, tokens };
}

async function transformersJs(): Promise<Record<string, number>> {
  const { pipeline, env } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.localModelPath = `${dirname(modelDir)}/`;
  const asr = await pipeline('automatic-speech-recognition', basename(modelDir), { dtype: 'fp32', device: 'cpu' });
  const wallMs = await minTime(repeats, async () => {
    await asr(samples, {
      chunk_length_s: 30,
      stride_length_s: 0,
      language: 'en',
      task: 'transcribe',
      return_timestamps: false,
      max_new_tokens: tokensPerWindow,
      min_new_tokens: tokensPerWindow,
    });
  });
  // min_new_tokens == max_new_tokens: every window decodes exactly tokensPerWindow tokens.
  return { wallMs, tokens: windows * tokensPerWindow };
}

const measured = runner === 'moxing' ? await moxing() : await transformersJs();
emitReport({ runner, wallMs: measured.wallMs, peakRssBytes: peakRssBytes(), extra: { tokens: measured.tokens, windows } });
