/**
 * One run of a job: the stored audio decoded, the model held from the server's pool while it runs, and the
 * transcript decoded window by window with the request's options (the same ones /v1/audio/* uses). An abort
 * stops the decoding at the next window; progress is reported after each window.
 */
import { decodeAudio } from '../audio/index.js';
import { transcribeStream, type WhisperModel } from '../asr/whisper/index.js';
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
  const stream = transcribeStream(samples, {
    ...transcriptionOptions(request.fields, request.task),
    model,
    wordTimestamps: words,
    onProgress: ({ doneSeconds, totalSeconds }) =>
      context.onProgress({ progress: totalSeconds > 0 ? Math.min(100, (100 * doneSeconds) / totalSeconds) : 100, audioSecondsDone: doneSeconds, audioSeconds: totalSeconds }),
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
  }
}
