/**
 * `npm run bench:live`: live transcription over the Realtime socket. An espeak-ng recording (bench/speech-audio.ts)
 * is streamed paced in real time by 1, 2 and 4 simultaneous clients to an in-process server, with the tiny
 * fixture model and the base-sized random model, under both policies. Reported per run:
 *
 * - committed latency p50/p95: from the moment the audio where a delta's text ends (its `audio_end_ms`) was
 *   sent, to the delta's arrival; and for each completed item, from its speech_stopped point to the completion;
 * - partial updates per second of audio, per stream;
 * - CPU share of the process (all cores = 100%).
 *
 * The random models hallucinate: every decode runs to --max-tokens, so decode cost is that of a real model
 * producing that many tokens. Options: --seconds 300 --speed 1 --streams 1,2,4 --models tiny,base
 * --policies vad,local-agreement --max-tokens 32 (--model and --policy are the same flags); --trace also prints,
 * per run, where the first stream's turn completions spent their time (the decoder's batches: partials
 * running when the final was asked for, the wait, the encoder runs, the batched decode, delivery); --stagger S
 * starts stream k S×k seconds into the recording (wrapping round), so that streams' turns do not all end in the
 * same instant (default 0: they do, the worst case for finals); --variant q8 serves the base model's q8 files (made
 * once beside it). Each run takes
 * the audio's length (paced) plus model loading; the plan and its estimated wall time print first.
 *
 * The issue's full measurement, on a quiet machine (about an hour; the base-sized model is generated on
 * first use, cached afterwards):
 *   npm run bench:live                                   # tiny and base, both policies, 1/2/4 streams, 300 s
 *   npm run bench:live -- --model base                   # base only (about 31 minutes)
 *   npm run bench:live -- --model base --policy vad --streams 1,4
 */
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { AddressInfo } from 'node:net';
import { buildApp } from '../src/server/index.js';
import { SAMPLE_RATE, decodeAudio } from '../src/audio/index.js';
import { BASE_WHISPER, ensureWhisperModel } from '../test/models/index.js';
import { RealtimeClient, appends } from '../test/server/realtime-client.js';
import { traceLiveBatches, type LiveBatchTrace } from '../src/asr/live/index.js';
import { ensureQ8, printTable } from './lib.js';
import { speechWav } from './speech-audio.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '300' },
    speed: { type: 'string', default: '1' },
    streams: { type: 'string', default: '1,2,4' },
    models: { type: 'string', default: 'tiny,base' },
    model: { type: 'string' },
    policies: { type: 'string', default: 'vad,local-agreement' },
    policy: { type: 'string' },
    'max-tokens': { type: 'string', default: '32' },
    trace: { type: 'boolean', default: false },
    stagger: { type: 'string', default: '0' },
    variant: { type: 'string', default: 'fp32' },
  },
});
const seconds = Number(values.seconds);
const speed = Number(values.speed);
const maxTokens = Number(values['max-tokens']);
const stagger = Number(values.stagger);
if (values.variant !== 'fp32' && values.variant !== 'q8') throw new Error(`--variant takes fp32 or q8, got ${values.variant}`);
const variant = values.variant;
if (!(stagger >= 0)) throw new Error(`--stagger takes seconds (0 or more), got ${values.stagger}`);
const MODEL_NAMES = ['tiny', 'base'];
const POLICIES = ['vad', 'local-agreement'];
const modelNames = listFlag('--model(s)', values.model ?? values.models, MODEL_NAMES);
const policies = listFlag('--polic(y|ies)', values.policy ?? values.policies, POLICIES);
const streamCounts = values.streams.split(',').map(Number);
if (!streamCounts.every((n) => Number.isInteger(n) && n >= 1 && n <= 16)) throw new Error(`--streams takes whole numbers from 1 to 16, got ${values.streams}`);
if (!(seconds >= 2 && speed > 0 && Number.isInteger(maxTokens) && maxTokens >= 1)) throw new Error('--seconds must be at least 2, --speed above 0, --max-tokens a whole number');

/** A comma-separated flag, each item one of `allowed`. */
function listFlag(flag: string, value: string, allowed: readonly string[]): string[] {
  const items = value.split(',');
  const unknown = items.filter((v) => !allowed.includes(v));
  if (unknown.length > 0) throw new Error(`${flag}: unknown ${unknown.join(', ')} (choose from ${allowed.join(', ')})`);
  return items;
}
const TINY = fileURLToPath(new URL('../../shared/models/whisper-tiny-random', import.meta.url));
const APPEND_SECONDS = 0.1;

interface Run {
  latencies: number[];
  partials: number;
  cpuShare: number;
  /** Error events (a session that fell 60 s behind drops audio: input_audio_buffer_overflow). */
  errors: number;
}

async function run(model: string, policy: string, streams: number, audio: Float32Array): Promise<Run> {
  const app = await buildApp({ images: false, calc: false, models: [model], audio: { modelOptions: { variant } }, realtime: { maxTokens, maxSessions: streams + 1, idleTimeoutMs: 600_000 } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/realtime?intent=transcription&policy=${policy}`;
  try {
    const clients = await Promise.all(Array.from({ length: streams }, () => RealtimeClient.open(url)));
    for (const c of clients) c.send({ type: 'session.update', session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcm', rate: SAMPLE_RATE }, transcription: { language: 'en' } } } } });
    await Promise.all(clients.map((c) => c.next('session.updated')));
    // Warm-up: the model loads on the first audio; not part of the measurement.
    const warm = await RealtimeClient.open(url.replace(`policy=${policy}`, 'policy=vad'));
    warm.send({ type: 'input_audio_buffer.append', audio: appends(audio.subarray(0, SAMPLE_RATE), SAMPLE_RATE, 1)[0].audio });
    warm.send({ type: 'input_audio_buffer.commit' });
    await Promise.race([warm.next('conversation.item.input_audio_transcription.completed'), warm.next('error')]);
    await warm.close();

    // Stream k plays the recording from k × --stagger seconds on (wrapping round): 0 keeps every turn's end in step.
    const perClient = clients.map((_, k) => appends(rotate(audio, Math.round(k * stagger * SAMPLE_RATE) % audio.length), SAMPLE_RATE, APPEND_SECONDS));
    const messages = perClient[0];
    const batches: LiveBatchTrace[] = [];
    if (values.trace) traceLiveBatches((b) => batches.push(b));
    const started = performance.now();
    const sentAt = (ms: number): number => started + ms / speed;
    const cpuBefore = process.cpuUsage();
    for (let i = 0; i < messages.length; i++) {
      const due = sentAt(i * APPEND_SECONDS * 1000);
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      clients.forEach((c, k) => c.send(perClient[k][i]));
    }
    // The end: a second of silence closes the last turn; then a commit settles whatever is left.
    const silence = appends(new Float32Array(SAMPLE_RATE), SAMPLE_RATE, 1)[0];
    const answered = clients.map((c) => {
      const from = c.events.length;
      c.send(silence);
      c.send({ type: 'input_audio_buffer.commit' });
      // The commit's answer: its transcript, or "empty" when the VAD had already closed the last turn.
      return Promise.race([c.next('error', () => true, from), c.next('input_audio_buffer.committed', () => true, from).then(() => c.next('conversation.item.input_audio_transcription.completed', () => true, c.events.length))]);
    });
    await Promise.race([Promise.all(answered), new Promise((resolve) => setTimeout(resolve, 600_000).unref())]);
    const cpu = process.cpuUsage(cpuBefore);
    const wall = performance.now() - started;
    const latencies: number[] = [];
    let partials = 0;
    let errors = 0;
    const stoppedAt = new Map<string, number>();
    for (const c of clients) {
      for (const e of c.events) {
        if (e.type === 'conversation.item.input_audio_transcription.partial') partials++;
        if (e.type === 'error' && (e.error as { code?: string }).code !== 'input_audio_buffer_commit_empty') errors++;
        const arrived = (e as unknown as { arrivedAt?: number }).arrivedAt;
        // A delta ends where its last word does; a completion (also when its text is empty) where its turn stopped.
        const end = e.type === 'conversation.item.input_audio_transcription.delta' ? (e.audio_end_ms as number) : e.type === 'conversation.item.input_audio_transcription.completed' ? stoppedAt.get(e.item_id as string) : undefined;
        if (e.type === 'input_audio_buffer.speech_stopped') stoppedAt.set(e.item_id as string, e.audio_end_ms as number);
        if (arrived !== undefined && end !== undefined) latencies.push(arrived - sentAt(Math.min(end, audio.length / 16)));
      }
    }
    traceLiveBatches(undefined);
    if (values.trace) printTrace(streams, clients[0].events, batches, sentAt);
    await Promise.all(clients.map((c) => c.close()));
    return { latencies, partials: partials / streams / (audio.length / SAMPLE_RATE), cpuShare: (cpu.user + cpu.system) / 1000 / wall / cpus().length, errors };
  } finally {
    await app.close();
  }
}

/**
 * --trace: for each turn completed on the first stream, from its speech_stopped point (ms, mean/p95 over turns):
 * until its final was asked for, the decoder's time on partials meanwhile, the wait for the settling batch,
 * the settling batches' encoder runs and decodes, and from the last batch's end to the event's arrival.
 * Batches are matched to a turn by time, not by stream: with --stagger other streams' finals fall in the window
 * (and a stream that fell behind real time has its turns' batches before its stop points), so read it for
 * streams in step that keep up.
 */
function printTrace(streams: number, events: readonly Record<string, unknown>[], batches: readonly LiveBatchTrace[], sentAt: (ms: number) => number): void {
  const stoppedAt = new Map<string, number>();
  const turns: number[][] = [];
  const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
  for (const e of events) {
    if (e.type === 'input_audio_buffer.speech_stopped') stoppedAt.set(e.item_id as string, e.audio_end_ms as number);
    const stop = stoppedAt.get(e.item_id as string);
    const arrived = (e as { arrivedAt?: number }).arrivedAt;
    if (e.type !== 'conversation.item.input_audio_transcription.completed' || stop === undefined || arrived === undefined) continue;
    const from = sentAt(stop);
    const settling = batches.filter((b) => b.kind === 'settling' && !b.stopped && b.endedAt > from && b.endedAt <= arrived);
    if (settling.length === 0) continue;
    const asked = Math.min(...settling.flatMap((b) => b.queuedAt));
    const partials = batches.filter((b) => b.kind === 'partial' && b.endedAt > asked && b.startedAt < settling[0].startedAt);
    const onPartials = sum(partials.map((b) => b.endedAt - Math.max(b.startedAt, asked)));
    const [first, last] = [settling[0], settling.at(-1)!];
    turns.push([arrived - from, asked - from, onPartials, first.startedAt - asked, settling.length, sum(settling.map((b) => b.queuedAt.length)), sum(settling.flatMap((b) => b.encoderMs)), sum(settling.map((b) => b.decodeMs)), arrived - last.endedAt]);
  }
  const names = ['latency', 'stop→asked', 'on partials', 'asked→batch', 'batches', 'windows', 'encoders', 'decodes', 'end→event'];
  const column = (i: number) => turns.map((t) => t[i]);
  console.error(`trace, ${streams} stream(s), ${turns.length} turns of stream 1 (mean/p95 ms): ` + names.map((n, i) => `${n} ${(sum(column(i)) / Math.max(1, turns.length)).toFixed(0)}/${percentile(column(i), 95).toFixed(0)}`).join(', '));
  for (const kind of ['partial', 'settling'] as const) {
    const of = batches.filter((b) => b.kind === kind);
    const encoders = of.flatMap((b) => b.encoderMs);
    const ran = of.filter((b) => b.decodeMs > 0);
    console.error(`  ${kind} batches: ${of.length} (${of.filter((b) => b.stopped).length} stopped), encoder mean ${(sum(encoders) / Math.max(1, encoders.length)).toFixed(0)} ms, decode mean ${(sum(ran.map((b) => b.decodeMs)) / Math.max(1, ran.length)).toFixed(0)} ms`);
  }
}

/** `audio` from `shift` on, then its start: the same recording, its turns `shift` samples earlier. */
function rotate(audio: Float32Array, shift: number): Float32Array {
  if (shift === 0) return audio;
  const out = new Float32Array(audio.length);
  out.set(audio.subarray(shift));
  out.set(audio.subarray(0, shift), audio.length - shift);
  return out;
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// Arrival times of each event, stamped as they come (RealtimeClient records events without times).
const originalOpen = RealtimeClient.open.bind(RealtimeClient);
RealtimeClient.open = async (url, options) => {
  const client = await originalOpen(url, options);
  // After the client's own listener, which has just recorded this message as the last event.
  client.ws.on('message', () => Object.assign(client.events[client.events.length - 1], { arrivedAt: performance.now() }));
  return client;
};

const audio = await decodeAudio(speechWav(seconds));
const models: [string, string][] = [];
for (const name of modelNames) {
  const dir = name === 'tiny' ? TINY : await ensureWhisperModel(BASE_WHISPER);
  // q8: the _quantized files beside the fp32 ones, made once (the read-only fixture cannot take them).
  if (variant === 'q8' && name === 'tiny') throw new Error('--variant q8 needs --model base (the tiny fixture folder is read-only)');
  const failed = variant === 'q8' ? ensureQ8(dir) : undefined;
  if (failed) throw new Error(failed);
  models.push([name === 'tiny' ? 'tiny (fixture)' : `base-sized random${variant === 'q8' ? ', q8' : ''}`, dir]);
}
const runs = models.length * policies.length * streamCounts.length;
console.log(`live: ${seconds} s of espeak-ng speech at ${speed}x real time, appends of ${APPEND_SECONDS * 1000} ms, --max-tokens ${maxTokens}${stagger > 0 ? `, streams ${stagger} s apart` : ''}; ${cpus().length} cores, load ${loadavg()[0].toFixed(1)} (a shared machine)`);
console.log(`${runs} runs, about ${Math.ceil((runs * (seconds / speed + 10)) / 60)} minutes`);
const rows: string[][] = [];
const ms = (v: number) => (Number.isNaN(v) ? '-' : `${(v / 1000).toFixed(2)} s`);
for (const [label, dir] of models) {
  for (const policy of policies) {
    let oneStreamP95: number | undefined;
    for (const streams of streamCounts) {
      const r = await run(dir, policy, streams, audio);
      const p95 = percentile(r.latencies, 95);
      if (streams === 1) oneStreamP95 = p95;
      const ratio = oneStreamP95 === undefined || streams === 1 ? '-' : `${(p95 / oneStreamP95).toFixed(2)}x`;
      rows.push([label, policy, String(streams), String(r.latencies.length), ms(percentile(r.latencies, 50)), ms(p95), ratio, r.partials.toFixed(2), `${(r.cpuShare * 100).toFixed(0)}%`, String(r.errors), loadavg()[0].toFixed(1)]);
      console.error(rows.at(-1)!.join('  '));
    }
  }
}
printTable(['model', 'policy', 'streams', 'commits', 'p50', 'p95', 'p95 vs 1 stream', 'partials/s', 'CPU', 'errors', 'load'], rows);
