/**
 * One run of a job: the stored audio decoded, the model held from the server's pool while it runs, and the
 * transcript decoded window by window with the request's options (the same ones /v1/audio/* uses). An abort
 * stops the decoding at the next window; progress is reported after each window. The sequential pipeline's
 * state is checkpointed after each window, and a later run of the job (after a crash or a shutdown) continues
 * from the last checkpoint: the result is the uninterrupted run's (asr/whisper resumeFrom). VAD-batched jobs
 * start again from the beginning.
 */
import { decodeAudio } from '../audio/index.js';
import { resolveBatchedOptions, transcribeStream, type WhisperModel } from '../asr/whisper/index.js';
import type { CheckpointStore } from './files.js';
import type { TranscriptionResult } from '../asr/types.js';
import { transcriptionOptions } from '../server/audio.js';
import type { UseWhisper } from '../server/speech-models.js';
import type { JobRequest } from './types.js';

export interface RunProgress {
  /** 0 to 100. */
  readonly progress: number;
  readonly audioSecondsDone: number;
  readonly audioSeconds: number;
}

export interface RunContext {
  readonly useModel: UseWhisper;
  readonly signal: AbortSignal;
  readonly onProgress: (progress: RunProgress) => void;
  /** Where the run keeps its checkpoints; without it every run starts from the beginning. */
  readonly checkpoints?: CheckpointStore;
}

export async function runTranscription(request: JobRequest, audioPath: string, context: RunContext): Promise<TranscriptionResult> {
  const { signal } = context;
  signal.throwIfAborted();
  const samples = await decodeAudio(audioPath);
  const words = request.fields.granularities.includes('word');
  return context.useModel(request.model, words, (model) => decode(samples, model, request, context));
}

async function decode(samples: Float32Array, model: WhisperModel, request: JobRequest, context: RunContext): Promise<TranscriptionResult> {
  const { signal } = context;
  signal.throwIfAborted();
  const words = request.fields.granularities.includes('word');
  const options = transcriptionOptions(request.fields, request.task);
  const store = resolveBatchedOptions(options) ? undefined : context.checkpoints;
  const resumeFrom = await store?.read();
  // One write at a time, in order; a failed write only costs a longer rerun.
  let saving = Promise.resolve();
  const stream = transcribeStream(samples, {
    ...options,
    model,
    wordTimestamps: words,
    onProgress: ({ doneSeconds, totalSeconds }) =>
      context.onProgress({ progress: totalSeconds > 0 ? Math.min(100, (100 * doneSeconds) / totalSeconds) : 100, audioSecondsDone: doneSeconds, audioSeconds: totalSeconds }),
    ...(store ? { resumeFrom, onCheckpoint: (checkpoint) => (saving = saving.then(() => store.write(checkpoint)).catch(() => undefined)) } : {}),
  });
  let finished = false;
  try {
    for (;;) {
      signal.throwIfAborted();
      const next = await stream.next();
      if (next.done) {
        finished = true;
        return next.value;
      }
    }
  } finally {
    // Ends the generator where it stands: no further window is decoded.
    if (!finished) await stream.return(undefined as never);
    // No write may land after the job's files are removed.
    await saving;
  }
}
