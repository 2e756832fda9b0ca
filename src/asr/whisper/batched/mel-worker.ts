/**
 * The mel worker's side (a worker thread started by batched/prefetch.ts): it reads the windows of one input
 * and answers each `prepare` request with their mel, transferred (no copy). Requests come one at a time;
 * `close` stops the reading (the file handle is closed, ffmpeg is killed) and answers `closed`.
 */
import type { MessagePort } from 'node:worker_threads';
import type { MelBins } from '../../../audio/constants.js';
import { streamAudio } from '../../../audio/decode.js';
import { MoxingError, type ErrorCode } from '../../../errors.js';
import { WindowReader, melBatch, type AudioWindow } from './mel.js';

/** How the worker decodes a file or bytes (a function such as onTruncated cannot cross threads). */
type WorkerDecodeOptions = { readonly ffmpegPath?: string; readonly allowTruncated?: boolean };

/** Where the worker's audio comes from. */
export type MelWorkerInput =
  /** A file, read by the worker (WAV natively, anything else through ffmpeg). */
  | ({ readonly kind: 'file'; readonly path: string } & WorkerDecodeOptions)
  /** The bytes of a file, sent to the worker once. */
  | ({ readonly kind: 'bytes'; readonly bytes: Uint8Array } & WorkerDecodeOptions)
  /** Decoded samples held by the main thread, which sends each request's window samples along with it. */
  | { readonly kind: 'samples' };

export interface MelWorkerInit {
  readonly input: MelWorkerInput;
  readonly nMels: MelBins;
}

export type MelWorkerRequest =
  | { readonly type: 'prepare'; readonly windows: readonly AudioWindow[]; readonly samples?: readonly Float32Array[] }
  | { readonly type: 'close' };

/** An error as it crosses threads: a MoxingError keeps its code and message. */
export interface MelWorkerFailure {
  readonly code?: ErrorCode;
  readonly name: string;
  readonly message: string;
}

export type MelWorkerReply =
  | { readonly type: 'batch'; readonly mel: Float32Array }
  | { readonly type: 'error'; readonly error: MelWorkerFailure }
  | { readonly type: 'closed' };

export function toFailure(error: unknown): MelWorkerFailure {
  if (error instanceof MoxingError) return { code: error.code, name: error.name, message: error.message };
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}

/** The error a failure stands for: the same MoxingError (code and message) the main thread would have thrown. */
export function fromFailure(failure: MelWorkerFailure): Error {
  if (failure.code !== undefined) return new MoxingError(failure.code, failure.message);
  const error = new Error(failure.message);
  error.name = failure.name;
  return error;
}

/** Serves `port` until `close`. Each request's reply is posted before the next request is read. */
export function serveMelBatches(port: MessagePort, init: MelWorkerInit): void {
  const { input, nMels } = init;
  // Opened on the first request, so a worker closed before any work never touches the file.
  let reader: WindowReader | undefined;
  const openReader = (): WindowReader => {
    if (input.kind === 'samples') throw new MoxingError('INTERNAL', 'mel worker: samples input without samples in the request');
    const source = input.kind === 'file' ? input.path : input.bytes;
    return (reader ??= new WindowReader(streamAudio(source, { ffmpegPath: input.ffmpegPath, allowTruncated: input.allowTruncated })));
  };
  let stopped = false;
  let work: Promise<void> = Promise.resolve();

  const prepare = async (request: Extract<MelWorkerRequest, { type: 'prepare' }>): Promise<void> => {
    if (stopped) return;
    try {
      const { samples } = request;
      const read = (w: AudioWindow, i: number): Float32Array | Promise<Float32Array> => {
        // Closing abandons the batch at its next window (the rejection is not reported: nobody waits for it).
        if (stopped) throw new MoxingError('INTERNAL', 'mel worker closed');
        return samples ? samples[i] : openReader().read(w);
      };
      const mel = await melBatch(request.windows, nMels, read);
      port.postMessage({ type: 'batch', mel } satisfies MelWorkerReply, [mel.buffer as ArrayBuffer]);
    } catch (error) {
      if (!stopped) port.postMessage({ type: 'error', error: toFailure(error) } satisfies MelWorkerReply);
    }
  };

  port.on('message', (request: MelWorkerRequest) => {
    if (request.type === 'prepare') {
      work = work.then(() => prepare(request));
      return;
    }
    stopped = true;
    // After the request in progress (it stops at its next window), so no read is pending when the stream
    // is returned: returning it is what closes the file or kills ffmpeg.
    work = work
      .then(() => reader?.close())
      .catch(() => undefined)
      .then(() => {
        port.postMessage({ type: 'closed' } satisfies MelWorkerReply);
        port.close();
      });
  });
}
