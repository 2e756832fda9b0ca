/**
 * The values of `transcribe()`'s numeric and choice options, one schema per option: the CLI's decoding flags
 * (cli/transcribe.ts) and the speech routes' fields (server/audio.ts, under OpenAI's snake_case names) are both
 * checked with these. A surface may only narrow one, by name, for its own reasons (the server's cost caps).
 */
import { z } from 'zod';

const whole = (min: number, max: number) => z.number().int().min(min).max(max);
const real = (min: number, max: number) => z.number().min(min).max(max);

/** TranscribeOptions fields, by their library names. */
export const DECODING_FIELDS = {
  task: z.enum(['transcribe', 'translate']),
  beamSize: whole(1, 64),
  bestOf: whole(1, 64),
  patience: real(0.01, 100),
  lengthPenalty: real(0, 1),
  compressionRatioThreshold: z.number().min(0),
  logprobThreshold: z.number().max(0),
  noSpeechThreshold: real(0, 1),
  seed: whole(0, 2 ** 31 - 1),
  hallucinationSilenceThreshold: z.number().min(0),
};

/**
 * openai's CLI pair that makes the fallback temperatures (fallbackTemperatures): the first temperature and the
 * step up to 1 (whisper.cpp's server calls it `temperature_inc`; 0 turns fallback off).
 */
export const FALLBACK_FIELDS = {
  temperature: real(0, 10),
  temperatureIncrementOnFallback: real(0, 1),
};
