/**
 * `moxing transcribe --diarize`: the transcript's segments and words get their speakers (WhisperX's
 * assign_word_speakers), shown as `[SPEAKER_00]: ` in srt, vtt, txt and tsv, and as `speaker` fields in json.
 */
import type { Command } from 'commander';
import type { TranscriptionResult } from '../asr/types.js';
import { decodeAudio } from '../audio/index.js';
import type { Device } from '../runtime/index.js';
import type { Diarizer } from '../speakers/index.js';
import { audioInput, type AudioInputCliOptions } from './audio-input.js';
import { parseInteger } from './options.js';
import { clearOnRelease } from '../runtime/model-caches.js';

export interface SpeakerCliOptions extends AudioInputCliOptions {
  diarize?: boolean;
  numSpeakers?: number;
  minSpeakers?: number;
  maxSpeakers?: number;
  segmentationModel?: string;
  embeddingModel?: string;
  threads?: number;
  device: Device;
}

/** The option names `--diarize` brings (for the CTC path's list of what it honours). */
export const SPEAKER_OPTION_NAMES = ['diarize', 'numSpeakers', 'minSpeakers', 'maxSpeakers', 'segmentationModel', 'embeddingModel'] as const;

export function withSpeakerOptions(command: Command): Command {
  return command
    .option('--diarize', 'say who speaks each segment and word (speaker diarization, as WhisperX)')
    .option('--num-speakers <n>', 'with --diarize: exactly this many speakers', parseInteger('--num-speakers', 1, 100))
    .option('--min-speakers <n>', 'with --diarize: at least this many speakers', parseInteger('--min-speakers', 1, 100))
    .option('--max-speakers <n>', 'with --diarize: at most this many speakers', parseInteger('--max-speakers', 1, 100))
    .option('--segmentation-model <model>', 'with --diarize: pyannote segmentation model (default: pyannote-segmentation-3.0)')
    .option('--embedding-model <model>', 'with --diarize: speaker embedding model (default: wespeaker-resnet34)');
}

let loaded: { key: string; diarizer: Promise<Diarizer> } | undefined;
clearOnRelease({ clear: () => (loaded = undefined) });

/** `result` with speakers, when --diarize is on. */
export async function diarizeResult(file: string, input: string | Uint8Array, result: TranscriptionResult, options: SpeakerCliOptions): Promise<TranscriptionResult> {
  if (!options.diarize) return result;
  const { loadDiarizer, assignSpeakers } = await import('../speakers/index.js');
  const models = { segmentationModel: options.segmentationModel, embeddingModel: options.embeddingModel, runtime: { device: options.device, intraOpThreads: options.threads } };
  const key = JSON.stringify(models);
  if (loaded?.key !== key) loaded = { key, diarizer: loadDiarizer(models) };
  const diarizer = await loaded.diarizer;
  const audio = await decodeAudio(input, audioInput(file, options, false)); // reported when it was transcribed
  const diarization = await diarizer.diarize(audio, { numSpeakers: options.numSpeakers, minSpeakers: options.minSpeakers, maxSpeakers: options.maxSpeakers });
  // Segment and Word carry an optional speaker: the attributed result is a TranscriptionResult
  return assignSpeakers(result, diarization) as unknown as TranscriptionResult;
}
