/**
 * `moxing listen`: live transcription of the microphone (ffmpeg capture), of a file paced in real time, or of
 * raw 16-bit PCM on stdin; in this process (asr/live) or against a server's /v1/realtime with --url. On a
 * terminal the unsettled text shows in place and each utterance stays as a line once it settles; elsewhere
 * each settled utterance is printed as `[start --> end] text`. --output writes the session as srt, vtt or json
 * (with --word-timestamps, each segment's words, which the srt/vtt writers pack lines from).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { extname } from 'node:path';
import type { Command } from 'commander';
import { openLiveStream, DEFAULT_LIVE, type LiveEvent, type LiveOptions } from '../asr/live/index.js';
import type { Segment, TranscriptionResult, Word } from '../asr/types.js';
import { Resampler, SAMPLE_RATE, decodeAudio, resolveFfmpegPath } from '../audio/index.js';
import { writeFilesAtomically } from '../atomic-write.js';
import { MoxingError } from '../errors.js';
import { renderTranscript } from '../formats/index.js';
import { toPcm16Base64 } from '../server/realtime.js';
import { addFlags, fieldsOf, type Flag } from './flags.js';
import { parseChoice, parseInteger, parseNumber } from './options.js';

interface ListenCliOptions {
  mic?: string | boolean;
  micFormat?: string;
  stdin?: boolean;
  rate: number;
  speed: number;
  url?: string;
  apiKey?: string;
  translate?: boolean;
  output?: string;
}

const LISTEN_FLAGS: readonly Flag[] = [
  { field: 'model', short: 'm', value: '<model>', description: 'Whisper model: alias, hub id or folder (in-process), or a model the server serves (--url)' },
  { field: 'language', short: 'l', value: '<code>', description: 'language of the speech; detected at each decode when left out' },
  { field: 'policy', value: '<policy>', description: 'what is committed inside an utterance: local-agreement (LocalAgreement-2) or vad (the whole utterance after its silence)', parse: parseChoice('--policy', ['local-agreement', 'vad'] as const) },
  { field: 'minChunkS', value: '<s>', description: 'new audio between decodes', parse: parseNumber('--min-chunk-s', 0.1, 10) },
  { field: 'maxTokens', value: '<n>', description: 'most tokens one decode samples', parse: parseInteger('--max-tokens', 1, 224) },
  { field: 'prompt', value: '<text>', description: 'text to prompt every decode with (names, spelling)' },
  { field: 'wordTimestamps', description: 'time every committed word by cross attention, as transcribe does, into --output (needs the timestamped decoder export; in-process only)' },
];

/** Microphone capture per OS: ffmpeg's input format and default device. */
const MIC_DEFAULTS: Record<string, [string, string]> = { linux: ['pulse', 'default'], darwin: ['avfoundation', ':0'], win32: ['dshow', 'audio=Microphone'] };

export function register(program: Command): void {
  const command = program
    .command('listen')
    .description('live transcription of the microphone, a file (paced in real time) or raw PCM on stdin; partials in place, settled lines as they come')
    .argument('[file]', 'an audio/video file, streamed at real-time pace (see --speed)')
    .option('--mic [device]', 'capture the microphone with ffmpeg (Linux: -f pulse "default", or --mic-format alsa with "hw:0"; macOS: -f avfoundation ":0"; Windows: -f dshow "audio=NAME")')
    .option('--mic-format <format>', 'ffmpeg input format for --mic (pulse, alsa, avfoundation, dshow)')
    .option('--stdin', 'read raw 16-bit little-endian mono PCM from stdin (at --rate)')
    .option('--rate <hz>', 'sample rate of --stdin PCM', parseInteger('--rate', 8000, 192_000), SAMPLE_RATE)
    .option('--speed <x>', 'pace a file at this multiple of real time; 0 feeds it as fast as it is transcribed', parseNumber('--speed', 0, 100), 1)
    .option('--url <url>', 'transcribe on a moxing server: its /v1/realtime socket (ws://host:port)')
    .option('--api-key <key>', 'the server\'s API key for --url (default: $MOXING_API_KEY)')
    .option('--translate', 'translate to English as it goes (Whisper\'s translate task; in-process only)')
    .option('-o, --output <file>', 'write the session at the end: .srt, .vtt or .json');
  addFlags(command, LISTEN_FLAGS, { policy: DEFAULT_LIVE.policy, minChunkS: DEFAULT_LIVE.minChunkS });
  command.action(async (file: string | undefined, options: ListenCliOptions, cmd: Command) => {
    const live = fieldsOf<LiveOptions>(cmd, LISTEN_FLAGS);
    const format = options.output ? outputFormat(options.output) : undefined;
    const sources = [file !== undefined, options.mic !== undefined, options.stdin === true].filter(Boolean).length;
    if (sources !== 1) throw new MoxingError('BAD_ARGUMENT', 'give exactly one source: a FILE, --mic or --stdin');
    if (options.translate && options.url) throw new MoxingError('BAD_ARGUMENT', '--translate runs in-process only: the Realtime protocol has no translate task; leave out --url');
    if (live.wordTimestamps && options.url) throw new MoxingError('BAD_ARGUMENT', '--word-timestamps runs in-process only: the Realtime protocol carries no word times; leave out --url');
    const view = new LiveView(process.stdout.isTTY === true);
    const audio = file !== undefined ? paced(await decodeAudio(file), options.speed) : options.stdin ? pcmFrom(process.stdin, options.rate) : microphone(options);
    const events = options.url ? remoteEvents(audio, options.url, options.apiKey ?? process.env.MOXING_API_KEY, live) : localEvents(audio, { ...live, task: options.translate ? 'translate' : 'transcribe' });
    for await (const event of events) view.show(event);
    view.end();
    if (options.output && format) await writeFilesAtomically([{ path: options.output, content: renderTranscript(view.result(live.language), format) }]);
  });
}

function outputFormat(path: string): 'srt' | 'vtt' | 'json' {
  const ext = extname(path).slice(1).toLowerCase();
  if (ext === 'srt' || ext === 'vtt' || ext === 'json') return ext;
  throw new MoxingError('BAD_ARGUMENT', `--output must end in .srt, .vtt or .json, got "${path}"`);
}

async function* localEvents(audio: AsyncIterable<Float32Array>, options: LiveOptions): AsyncGenerator<LiveEvent> {
  const stream = await openLiveStream(options);
  for await (const samples of audio) yield* await stream.push(samples);
  yield* await stream.finish();
}

/** `samples` in 100 ms pieces, each given when its time comes at `speed` times real time (0: at once). */
async function* paced(samples: Float32Array, speed: number): AsyncGenerator<Float32Array> {
  const piece = SAMPLE_RATE / 10;
  const started = performance.now();
  for (let s = 0; s < samples.length; s += piece) {
    if (speed > 0) {
      const due = started + ((s / SAMPLE_RATE) * 1000) / speed;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    yield samples.subarray(s, s + piece);
  }
}

/** Raw s16le mono PCM from `input` at `rate`, as 16 kHz samples. */
async function* pcmFrom(input: NodeJS.ReadableStream, rate: number): AsyncGenerator<Float32Array> {
  const resampler = new Resampler(rate, SAMPLE_RATE);
  let carry: Buffer = Buffer.alloc(0);
  for await (const chunk of input) {
    const bytes = carry.length > 0 ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
    const whole = bytes.length - (bytes.length % 2);
    carry = bytes.subarray(whole);
    const samples = new Float32Array(whole / 2);
    for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(2 * i) / 32768;
    yield resampler.process(samples);
  }
  yield resampler.flush();
}

/** The microphone through ffmpeg, as 16 kHz samples; ffmpeg stops when the listener does. */
async function* microphone(options: ListenCliOptions): AsyncGenerator<Float32Array> {
  const [defaultFormat, defaultDevice] = MIC_DEFAULTS[process.platform] ?? MIC_DEFAULTS.linux;
  const device = typeof options.mic === 'string' ? options.mic : defaultDevice;
  const ffmpeg: ChildProcess = spawn(resolveFfmpegPath(), ['-hide_banner', '-loglevel', 'error', '-f', options.micFormat ?? defaultFormat, '-i', device, '-ac', '1', '-ar', String(SAMPLE_RATE), '-f', 's16le', '-'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let errors = '';
  ffmpeg.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const stop = (): void => void ffmpeg.kill('SIGINT');
  process.once('SIGINT', stop);
  try {
    yield* pcmFrom(ffmpeg.stdout!, SAMPLE_RATE);
    const code = ffmpeg.exitCode ?? (await new Promise<number | null>((resolve) => ffmpeg.once('exit', resolve)));
    if (code !== 0 && code !== 255 && errors) throw new MoxingError('AUDIO_UNSUPPORTED', `ffmpeg could not capture ${device} (-f ${options.micFormat ?? defaultFormat}): ${errors.trim().split('\n').at(-1)}`);
  } finally {
    process.off('SIGINT', stop);
    ffmpeg.kill();
  }
}

/**
 * The same events from a server's /v1/realtime: 16 kHz pcm16 appends as the audio comes, the protocol's
 * events read back (the partial extension, deltas as commits, completed as an utterance's final commit).
 */
async function* remoteEvents(audio: AsyncIterable<Float32Array>, base: string, apiKey: string | undefined, live: Partial<LiveOptions>): AsyncGenerator<LiveEvent> {
  const { default: WebSocket } = await import('ws');
  const url = new URL(base.replace(/^http/, 'ws'));
  url.pathname = '/v1/realtime';
  url.search = `intent=transcription&policy=${live.policy ?? DEFAULT_LIVE.policy}`;
  const ws = new WebSocket(url, { headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {} });
  const queue: LiveEvent[] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  let done = false;
  const push = (e: LiveEvent): void => {
    queue.push(e);
    wake?.();
  };
  let start = 0;
  let stopped = 0;
  let ending = false;
  ws.on('message', (data) => {
    const e = JSON.parse(String(data)) as Record<string, unknown>;
    if (e.type === 'input_audio_buffer.speech_started') push({ type: 'speech_started', start: (start = (e.audio_start_ms as number) / 1000) });
    else if (e.type === 'input_audio_buffer.speech_stopped') push({ type: 'speech_stopped', end: (stopped = (e.audio_end_ms as number) / 1000) });
    else if (e.type === 'conversation.item.input_audio_transcription.partial') push({ type: 'partial', text: e.text as string });
    else if (e.type === 'conversation.item.input_audio_transcription.delta') push({ type: 'committed', text: (e.delta as string).trim(), start, end: stopped, final: false });
    else if (e.type === 'conversation.item.input_audio_transcription.completed') {
      push({ type: 'committed', text: '', start, end: Math.max(start, stopped), final: true });
    } else if (e.type === 'input_audio_buffer.cleared') {
      // Answered after the closing commit (a session runs its events in order): everything has settled.
      if (ending) done = true;
    } else if (e.type === 'error' && ending && (e.error as { code?: string }).code === 'input_audio_buffer_commit_empty') {
      // The VAD had already closed the last turn: the normal end.
    } else if (e.type === 'error') failure = new MoxingError('BAD_ARGUMENT', `the server answered: ${(e.error as { message: string }).message}`);
    wake?.();
  });
  ws.on('close', () => {
    done = true;
    wake?.();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', (_req, res) => reject(new MoxingError(res.statusCode === 401 ? 'UNAUTHORIZED' : 'UNAVAILABLE', `the server refused the session: HTTP ${res.statusCode}`)));
    ws.once('error', (error) => reject(new MoxingError('UNAVAILABLE', `cannot reach ${url.origin}: ${error.message}`)));
  });
  const transcription = { ...(live.model ? { model: live.model } : {}), ...(live.language ? { language: live.language } : {}), ...(live.prompt ? { prompt: live.prompt } : {}) };
  ws.send(JSON.stringify({ type: 'session.update', session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcm', rate: SAMPLE_RATE }, transcription } } } }));
  const sending = (async () => {
    for await (const samples of audio) {
      ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: toPcm16Base64(samples) }));
    }
    // The end: one second of silence lets the server's VAD close the last turn; then wait for it.
    ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.alloc(SAMPLE_RATE * 2).toString('base64') }));
    ending = true;
    ws.send(JSON.stringify({ type: 'input_audio_buffer.commit' }));
    ws.send(JSON.stringify({ type: 'input_audio_buffer.clear' }));
  })();
  sending.catch((error: unknown) => (failure = error as Error));
  try {
    for (;;) {
      while (queue.length > 0) yield queue.shift()!;
      if (failure) throw failure;
      if (done) break;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    ws.close();
  }
}

/** What the terminal shows, and the session kept for --output. */
class LiveView {
  private readonly segments: Segment[] = [];
  private utterance: { start: number; texts: string[]; words: Word[] | undefined } | undefined;
  private partial = '';

  constructor(private readonly tty: boolean) {}

  show(e: LiveEvent): void {
    if (e.type === 'speech_started') this.utterance = { start: e.start, texts: [], words: undefined };
    else if (e.type === 'partial') this.partial = e.text;
    else if (e.type === 'committed') {
      this.utterance ??= { start: e.start, texts: [], words: undefined };
      if (e.text) this.utterance.texts.push(e.text);
      // Word times come with every commit when asked for (each commit's words are its text).
      if (e.words) (this.utterance.words ??= []).push(...e.words.map((w) => ({ word: w.word, start: w.start, end: w.end, probability: w.probability ?? 0 })));
      this.partial = '';
      if (e.final) {
        const text = this.utterance.texts.join(' ');
        const words = this.utterance.words ? { words: this.utterance.words } : {};
        if (text) this.segments.push({ id: this.segments.length, seek: 0, start: this.utterance.start, end: Math.max(this.utterance.start, e.end), text: ` ${text}`, tokens: [], temperature: 0, avgLogprob: 0, compressionRatio: 0, noSpeechProb: 0, ...words });
        this.line(text ? (this.tty ? text : `[${clock(this.utterance.start)} --> ${clock(e.end)}] ${text}`) : '');
        this.utterance = undefined;
        return;
      }
    }
    if (this.tty) {
      const settled = this.utterance?.texts.join(' ') ?? '';
      // Settled text plain, the rest grey, redrawn in place.
      process.stdout.write(`\r\x1b[K${settled}${settled && this.partial ? ' ' : ''}\x1b[90m${this.partial}\x1b[0m`);
    }
  }

  end(): void {
    if (this.tty) process.stdout.write('\r\x1b[K');
  }

  private line(text: string): void {
    if (this.tty) process.stdout.write(`\r\x1b[K${text}${text ? '\n' : ''}`);
    else if (text) process.stdout.write(`${text}\n`);
  }

  result(language: string | undefined): TranscriptionResult {
    return { text: this.segments.map((s) => s.text).join(''), segments: this.segments, language: language ?? 'en' };
  }
}

function clock(seconds: number): string {
  return seconds.toFixed(2).padStart(7);
}
