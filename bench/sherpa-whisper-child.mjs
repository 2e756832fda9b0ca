// Runs sherpa-onnx-node's offline Whisper in its own process (it SIGSEGVs on model metadata it does not expect,
// which must not take the benchmark or the test runner down). Input: a JSON job on argv[2]; output: JSON on stdout.
// Job: { encoder, decoder, tokens, threads, language, tailPaddings?, audio: a WAV path or a raw float32 16 kHz
// file (.f32), vad?: silero model path (then VAD segments are decoded one by one, as sherpa-onnx's
// vad-with-non-streaming-asr example does), repeats? }.
// Result: { texts, windows, tokens, wallMs (the fastest repeat; model load excluded) }.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const sherpa = createRequire(import.meta.url)('sherpa-onnx-node');
const SAMPLE_RATE = 16000;

const job = JSON.parse(process.argv[2]);
const recognizer = new sherpa.OfflineRecognizer({
  featConfig: { sampleRate: SAMPLE_RATE, featureDim: 80 },
  modelConfig: {
    whisper: { encoder: job.encoder, decoder: job.decoder, language: job.language ?? 'en', task: 'transcribe', tailPaddings: job.tailPaddings ?? -1 },
    tokens: job.tokens,
    numThreads: job.threads,
    provider: 'cpu',
    debug: 0,
  },
  decodingMethod: 'greedy_search',
});

function samples() {
  if (job.audio.endsWith('.f32')) {
    const bytes = readFileSync(job.audio);
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  }
  const wave = sherpa.readWave(job.audio);
  if (wave.sampleRate !== SAMPLE_RATE) throw new Error(`${job.audio}: ${wave.sampleRate} Hz, expected ${SAMPLE_RATE}`);
  return wave.samples;
}

function decode(segment) {
  const stream = recognizer.createStream();
  stream.acceptWaveform({ samples: segment, sampleRate: SAMPLE_RATE });
  recognizer.decode(stream);
  return recognizer.getResult(stream);
}

/** The VAD segments of `audio`, in the example's settings (silero, threshold 0.5, 0.25 s speech, 0.5 s silence). */
function* vadSegments(audio) {
  const vad = new sherpa.Vad(
    {
      sileroVad: { model: job.vad, threshold: 0.5, minSpeechDuration: 0.25, minSilenceDuration: 0.5, maxSpeechDuration: 29, windowSize: 512 },
      sampleRate: SAMPLE_RATE,
      debug: false,
      numThreads: 1,
    },
    60,
  );
  for (let i = 0; i < audio.length; i += 512) {
    vad.acceptWaveform(audio.subarray(i, i + 512));
    while (!vad.isEmpty()) {
      yield vad.front().samples;
      vad.pop();
    }
  }
  vad.flush();
  while (!vad.isEmpty()) {
    yield vad.front().samples;
    vad.pop();
  }
}

const audio = samples();
let best;
for (let r = 0; r < (job.repeats ?? 1); r++) {
  const started = process.hrtime.bigint();
  const results = job.vad ? [...vadSegments(audio)].map(decode) : [decode(audio)];
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (!best || wallMs < best.wallMs) {
    best = { texts: results.map((x) => x.text), windows: results.length, tokens: results.reduce((n, x) => n + x.tokens.length, 0), wallMs };
  }
}
process.stdout.write(JSON.stringify(best));
