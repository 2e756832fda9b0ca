/**
 * How the server gets a loaded Whisper: one shared promise per model reference and decoder export, so the
 * speech routes and the job worker load a model once. A model pool (idle TTL, memory budget) replaces this
 * one function.
 */
import { WhisperModel } from '../asr/whisper/index.js';
import type { ModelLoadOptions } from '../hub/index.js';

/** Loads `ref` with (`timestamped`) or without the cross-attention decoder export. */
export type WhisperLoader = (ref: string, timestamped: boolean) => Promise<WhisperModel>;

export function whisperLoader(modelOptions?: ModelLoadOptions): WhisperLoader {
  const loaded = new Map<string, Promise<WhisperModel>>();
  return (ref, timestamped) => {
    const key = `${ref}\n${timestamped}`;
    let model = loaded.get(key);
    if (!model) {
      model = WhisperModel.load(ref, { ...modelOptions, timestamped });
      loaded.set(key, model);
      // A failed load is tried again by the next request.
      model.catch(() => loaded.delete(key));
    }
    return model;
  };
}
