/**
 * Fidelity to openai/whisper: moxing's transcribe() on the dev clips with the shared tiny random-weight
 * Whisper, compared with what openai's own transcribe() returned on them with the same weights
 * (`oracle-dev/`). The settings are the oracle's: temperature 0 without fallback (every oracle segment
 * has temperature 0.0 despite avg_logprob near -9.8), greedy, language detected (translate: es given),
 * condition_on_previous_text and the other transcribe() defaults.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WhisperModel, transcribe, type TranscribeOptions } from '../../../src/asr/index.js';
import { decodeAudio } from '../../../src/audio/index.js';

export const SHARED = join(process.cwd(), '..', 'shared');
export const FIXTURE_DIR = join(SHARED, 'models', 'whisper-tiny-random');

type Kind = 'single' | 'translate' | 'long';

interface OracleSegment {
  readonly start: number;
  readonly end: number;
  readonly text: string;
  readonly tokens: readonly number[];
  readonly avg_logprob: number;
  readonly no_speech_prob: number;
  readonly compression_ratio: number;
}

interface Oracle {
  readonly text: string;
  readonly language: string;
  readonly segments: readonly OracleSegment[];
}

/** The fixture with the given decoder layout, on one thread: test files run two at a time. */
export function loadFixture(layout: 'merged' | 'split' = 'merged'): Promise<WhisperModel> {
  const onnx = join(FIXTURE_DIR, 'onnx');
  const decoder =
    layout === 'merged'
      ? { kind: 'merged' as const, path: join(onnx, 'decoder_model_merged.onnx'), timestamped: false }
      : { kind: 'split' as const, decoder: join(onnx, 'decoder_model.onnx'), decoderWithPast: join(onnx, 'decoder_with_past_model.onnx') };
  return WhisperModel.fromFiles({ dir: FIXTURE_DIR, encoder: join(onnx, 'encoder_model.onnx'), decoder }, { intraOpThreads: 1 });
}

/** Clip paths (relative to audio/dev/) of one kind, from the manifest. */
export function clipsOf(kind: Kind): string[] {
  const manifest = JSON.parse(readFileSync(join(SHARED, 'audio', 'dev', 'manifest.json'), 'utf8')) as { clips: { path: string; kind: string }[] };
  return manifest.clips.filter((c) => c.kind === kind).map((c) => c.path);
}

export interface FidelityRun {
  /** Decoder layout: both are exercised across the fidelity files. */
  readonly layout: 'merged' | 'split';
  /** Part `index` of `of` equal slices of the clips, so that the test runner can spread them over cores. */
  readonly part?: readonly [index: number, of: number];
}

/** Runs the clips of `kind` and asserts the agreement the issue asks for; prints the figures. */
export async function checkFidelity(kind: Kind, options: TranscribeOptions, run: FidelityRun): Promise<void> {
  const model = await loadFixture(run.layout);
  const all = clipsOf(kind);
  const [index, of] = run.part ?? [0, 1];
  const clips = all.filter((_, i) => i % of === index);
  assert.ok(clips.length > 0, `no ${kind} clips in the manifest`);
  let textEqual = 0;
  let languageEqual = 0;
  let segmentsCompared = 0;
  let maxTimeError = 0;
  // Decode statistics cover every sampled token, including those after the last segment: they show that the
  // whole decode, not only the kept text, follows openai's.
  let maxLogprobError = 0;
  let maxNoSpeechError = 0;
  let maxCompressionError = 0;
  let statsEqual = 0;
  const textDiffs: string[] = [];
  const timeDiffs: string[] = [];
  const started = performance.now();
  for (const path of clips) {
    const name = path.replace(/\.wav$/, '');
    const oracle = JSON.parse(readFileSync(join(FIXTURE_DIR, 'oracle-dev', `${name}.json`), 'utf8')) as Oracle;
    const audio = await decodeAudio(join(SHARED, 'audio', 'dev', path));
    const result = await transcribe(audio, { ...options, model });
    if (result.text === oracle.text) textEqual++;
    else textDiffs.push(`${name}: ${JSON.stringify(result.text)} vs openai ${JSON.stringify(oracle.text)}`);
    if (result.language === oracle.language) languageEqual++;
    else textDiffs.push(`${name}: language ${result.language} vs openai ${oracle.language}`);
    // Times are compared segment by segment wherever the segmentations line up.
    if (result.segments.length !== oracle.segments.length) {
      timeDiffs.push(`${name}: ${result.segments.length} segments vs openai ${oracle.segments.length}`);
      continue;
    }
    result.segments.forEach((segment, i) => {
      const error = Math.max(Math.abs(segment.start - oracle.segments[i].start), Math.abs(segment.end - oracle.segments[i].end));
      segmentsCompared++;
      maxTimeError = Math.max(maxTimeError, error);
      maxLogprobError = Math.max(maxLogprobError, Math.abs(segment.avgLogprob - oracle.segments[i].avg_logprob));
      maxNoSpeechError = Math.max(maxNoSpeechError, Math.abs(segment.noSpeechProb - oracle.segments[i].no_speech_prob));
      const logprobError = Math.abs(segment.avgLogprob - oracle.segments[i].avg_logprob);
      const compressionError = Math.abs(segment.compressionRatio - oracle.segments[i].compression_ratio);
      maxCompressionError = Math.max(maxCompressionError, compressionError);
      if (logprobError < 1e-3 && compressionError < 1e-6 && Math.abs(segment.noSpeechProb - oracle.segments[i].no_speech_prob) < 1e-6) statsEqual++;
      if (error > 0.02 + 1e-9) timeDiffs.push(`${name} segment ${i}: ${segment.start}-${segment.end} vs openai ${oracle.segments[i].start}-${oracle.segments[i].end}`);
    });
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `fidelity ${kind}${of > 1 ? ` part ${index + 1}/${of}` : ''} (${run.layout} decoder): text ${textEqual}/${clips.length} (${((100 * textEqual) / clips.length).toFixed(1)}%), ` +
      `language ${languageEqual}/${clips.length}, ${segmentsCompared} segments, max time error ${maxTimeError.toFixed(4)} s, ` +
      `max |Δ avg_logprob| ${maxLogprobError.toExponential(1)}, max |Δ no_speech_prob| ${maxNoSpeechError.toExponential(1)}, ` +
      `max |Δ compression_ratio| ${maxCompressionError.toExponential(1)}, ${seconds.toFixed(1)} s`,
  );
  for (const line of [...textDiffs, ...timeDiffs].slice(0, 10)) console.log(`  ${line}`);
  assert.equal(languageEqual, clips.length, 'detected language differs from openai on some clip');
  assert.ok(textEqual / clips.length >= 0.95, `text equals openai's on ${textEqual}/${clips.length} clips only`);
  assert.deepEqual(timeDiffs, [], 'segment times differ from openai by more than 0.02 s');
  // The statistics of the whole decode (tokens past the last segment included), which drive fallback.
  assert.ok(statsEqual / segmentsCompared >= 0.95, `avg_logprob / compression_ratio / no_speech_prob match openai on ${statsEqual}/${segmentsCompared} segments only`);
}
