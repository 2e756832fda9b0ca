/**
 * One run of a job: the stored audio decoded, the model loaded through the server's loader, and the
 * transcript decoded window by window with the request's options (the same ones /v1/audio/* uses). An abort
 * stops the decoding at the next window; progress is reported after each window.
 */
import { decodeAudio } from '../audio/index.js';
import { transcribeStream } from '../asr/whisper/index.js';
import type { TranscriptionResult } from '../asr/types.js';
import { transcriptionOptions } from '../server/audio.js';
import type { WhisperLoader } from '../server/whisper-loader.js';
import type { JobRequest } from './types.js';

export interface RunProgress {
  /** 0 to 100. */
  readonly progress: number;
  readonly audioSecondsDone: number;
  readonly audioSeconds: number;
}

export interface RunContext {
  readonly load: WhisperLoader;
  readonly signal: AbortSignal;
  readonly onProgress: (progress: RunProgress) => void;
}

export async function runTranscription(request: JobRequest, audioPath: string, context: RunContext): Promise<TranscriptionResult> {
  const { signal } = context;
  signal.throwIfAborted();
  const samples = await decodeAudio(audioPath);
  const words = request.fields.granularities.includes('word');
  const model = await context.load(request.model, words);
  signal.throwIfAborted();
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
