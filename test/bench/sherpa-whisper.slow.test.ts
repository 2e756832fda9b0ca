/**
 * The benchmark's sherpa-onnx peer decodes the same weights as moxing: bench/sherpa-whisper.ts writes the tiny
 * fixture (a torch export: anonymous MatMul weights, layer norms shared through Identity nodes) in sherpa-onnx's
 * Whisper export layout, and sherpa-onnx-node's greedy transcript of dev clips must equal moxing's.
 *
 * The settings are sherpa-onnx's decoding, asked of moxing: English, no timestamps, plain argmax (no blank or
 * token suppression: sherpa-onnx has none), no fallback or previous-text prompt, and sherpa-onnx's token cap (6 per
 * second of audio). sherpa-onnx appends `tailPaddings` zero frames to the features before the encoder; 3000 makes
 * every window the full 30 s one openai's pipeline feeds (its default, 1000, gives the encoder a shorter input, so
 * another computation). Two front ends remain different and the transcripts are still equal: kaldi-native-fbank's
 * frames sit half a hop later than openai's STFT frames (snip_edges false), and its padding is 0 after the log-mel
 * normalisation where openai's padded audio gives max - 8 in log10 units.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeAudio } from '../../src/audio/index.js';
import { WhisperModel, transcribe } from '../../src/asr/whisper/index.js';
import { decodeModel } from '../../src/runtime/onnx/index.js';
import { writeSherpaWhisper } from '../../bench/sherpa-whisper.js';
import { runSherpaWhisper, sherpaTokenCap } from '../../bench/sherpa-onnx.js';

const SHARED = fileURLToPath(new URL('../../../shared/', import.meta.url));
const FIXTURE = join(SHARED, 'models/whisper-tiny-random');
const CLIPS = ['single/en_000.wav', 'single/en_005.wav', 'single/de_003.wav', 'single/es_010.wav'];

const ioNames = (path: string) => {
  const graph = decodeModel(readFileSync(path)).graph;
  return { inputs: (graph?.input ?? []).map((v) => v.name), outputs: (graph?.output ?? []).map((v) => v.name) };
};

test('sherpa-onnx-node decodes the sherpa-onnx export of the tiny fixture to moxing greedy transcripts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxing-sherpa-'));
  try {
    const files = await writeSherpaWhisper(FIXTURE, join(dir, 'export'));
    assert.deepEqual(ioNames(files.encoder), { inputs: ['mel'], outputs: ['n_layer_cross_k', 'n_layer_cross_v'] });
    assert.deepEqual(ioNames(files.decoder), {
      inputs: ['tokens', 'in_n_layer_self_k_cache', 'in_n_layer_self_v_cache', 'n_layer_cross_k', 'n_layer_cross_v', 'offset'],
      outputs: ['logits', 'out_n_layer_self_k_cache', 'out_n_layer_self_v_cache'],
    });
    const metadata = new Map((decodeModel(readFileSync(files.encoder)).metadataProps ?? []).map((p) => [p.key, p.value]));
    assert.equal(metadata.get('sot_sequence'), '50258,50259,50359');
    assert.equal(metadata.get('n_text_layer'), '3');

    const model = await WhisperModel.load(FIXTURE, { runtime: { intraOpThreads: 1 } });
    for (const clip of CLIPS) {
      const samples = await decodeAudio(join(SHARED, 'audio/dev', clip));
      const audio = join(dir, 'clip.f32');
      writeFileSync(audio, new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength));
      const sherpa = await runSherpaWhisper({ ...files, threads: 1, audio, tailPaddings: 3000 });
      const ours = await transcribe(samples, {
        model,
        language: 'en',
        temperature: 0,
        withoutTimestamps: true,
        conditionOnPreviousText: false,
        suppressTokens: [],
        suppressBlank: false,
        sampleLen: sherpaTokenCap(samples.length),
        compressionRatioThreshold: null,
        logprobThreshold: null,
        noSpeechThreshold: null,
      });
      const text = ours.segments.map((s) => s.text).join('');
      assert.ok(text.trim().length > 0, `${clip}: moxing decoded nothing`);
      assert.equal(sherpa.texts[0].trim(), text.trim(), clip);
      assert.equal(sherpa.tokens, ours.segments.reduce((n, s) => n + s.tokens.length, 0), `${clip}: token counts`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
