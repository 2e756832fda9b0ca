/**
 * Generated conversations with known truth: espeak-ng voices of different pitch and timbre taking turns of
 * 2–15 s (one to four sentences), with pauses, and in some cases crosstalk (a turn starting before the last ends).
 * Each case is cached as raw float32 16 kHz samples plus its truth, under test/.models/conversations/.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeAudio } from '../../src/audio/index.js';
import type { Turn } from '../../src/speakers/der.js';
import { Rng } from '../models/onnx-builder.js';
import { TEST_MODELS_DIR } from '../models/whisper.js';

const MANIFEST = new URL('../../../shared/audio/dev/manifest.json', import.meta.url);

/** Voices far apart in pitch and timbre (espeak-ng variant, pitch 0-99). */
export const VOICES = [
  { voice: 'en+m3', pitch: 20, speed: 165 },
  { voice: 'en+f4', pitch: 80, speed: 175 },
  { voice: 'en+m7', pitch: 50, speed: 150 },
  { voice: 'en+f2', pitch: 99, speed: 185 },
] as const;

export interface Conversation {
  name: string;
  speakers: number;
  /** Path of the raw float32 samples. */
  f32: string;
  samples: Float32Array;
  truth: Turn[];
}

export interface ConversationSpec {
  seed: number;
  speakers: number;
  turns: number;
  crosstalk: boolean;
}

/** Ten cases: 2, 3 and 4 speakers, some with crosstalk. */
export const EQUALITY_CASES: readonly ConversationSpec[] = Object.freeze(
  Array.from({ length: 10 }, (_, i) => ({ seed: 100 + i, speakers: 2 + (i % 3), turns: 6 + (i % 4), crosstalk: i % 3 === 1 })),
);

function sentences(): string[] {
  const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8')) as { clips: { kind: string; language: string; text: string }[] };
  return manifest.clips.filter((c) => c.kind === 'single' && c.language === 'en').map((c) => c.text);
}

async function speak(text: string, voice: (typeof VOICES)[number], work: string): Promise<Float32Array> {
  const wav = join(work, 'turn.wav');
  execFileSync('espeak-ng', ['-v', voice.voice, '-p', String(voice.pitch), '-s', String(voice.speed), '-w', wav, text]);
  return decodeAudio(wav);
}

/** First and last sample louder than -60 dBFS. */
function voiced(samples: Float32Array): [number, number] {
  let a = 0;
  let b = samples.length - 1;
  while (a < b && Math.abs(samples[a]) < 1e-3) a++;
  while (b > a && Math.abs(samples[b]) < 1e-3) b--;
  return [a, b + 1];
}

/** The conversation `spec` describes, generated on first use. */
export async function conversation(spec: ConversationSpec, root: string = join(TEST_MODELS_DIR, 'conversations')): Promise<Conversation> {
  const name = `conv-${spec.speakers}spk-${spec.seed}${spec.crosstalk ? '-x' : ''}`;
  const hash = createHash('sha256').update(JSON.stringify([1, spec, VOICES])).digest('hex').slice(0, 10);
  const f32 = join(root, `${name}-${hash}.f32`);
  const truthFile = `${f32}.json`;
  if (!existsSync(f32) || !existsSync(truthFile)) {
    const rng = new Rng(spec.seed);
    const pick = (n: number) => Math.floor(rng.uniform() * n);
    const texts = sentences();
    const work = join(tmpdir(), `moxing-conv-${process.pid}-${spec.seed}`);
    mkdirSync(work, { recursive: true });
    const placed: { at: number; samples: Float32Array; speaker: number }[] = [];
    let cursor = 8000;
    let last = -1;
    try {
      for (let t = 0; t < spec.turns; t++) {
        // every speaker talks at least once: the first turns go round, later ones are random (never twice in a row)
        let speaker = t < spec.speakers ? t : pick(spec.speakers);
        if (speaker === last) speaker = (speaker + 1) % spec.speakers;
        const parts: Float32Array[] = [];
        let length = 0;
        const count = 1 + pick(3);
        for (let s = 0; s < count; s++) {
          const [a, b] = voiced(await speak(texts[pick(texts.length)], VOICES[speaker], work).then((x) => (parts.push(x), x)));
          parts[parts.length - 1] = parts[parts.length - 1].subarray(a, b);
          length += b - a + 2400;
        }
        const turn = new Float32Array(length);
        let at = 0;
        for (const p of parts) {
          turn.set(p, at);
          at += p.length + 2400;
        }
        const overlap = spec.crosstalk && t > 0 && rng.uniform() < 0.4 ? Math.floor((0.5 + rng.uniform()) * 16000) : 0;
        const start = Math.max(0, cursor - overlap);
        placed.push({ at: start, samples: turn.subarray(0, at - 2400), speaker });
        cursor = start + at - 2400 + (overlap > 0 ? 8000 : Math.floor((0.4 + rng.uniform() * 1.2) * 16000));
        last = speaker;
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    const audio = new Float32Array(cursor + 8000);
    for (const p of placed) for (let i = 0; i < p.samples.length; i++) audio[p.at + i] += p.samples[i] * 0.8;
    const truth: Turn[] = placed.map((p) => ({ start: p.at / 16000, end: (p.at + p.samples.length) / 16000, speaker: `S${p.speaker}` }));
    mkdirSync(root, { recursive: true });
    const temp = `${f32}.${process.pid}.tmp`;
    writeFileSync(temp, new Uint8Array(audio.buffer));
    writeFileSync(truthFile, JSON.stringify(truth));
    renameSync(temp, f32);
  }
  const bytes = readFileSync(f32);
  const samples = new Float32Array(bytes.length / 4);
  new Uint8Array(samples.buffer).set(bytes);
  return { name, speakers: spec.speakers, f32, samples, truth: JSON.parse(readFileSync(truthFile, 'utf8')) as Turn[] };
}
