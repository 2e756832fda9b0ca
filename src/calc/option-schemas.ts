/**
 * The calc options' values, one schema per option of TrainingOptions, InferenceOptions and FitOptions: the range
 * or choices the library accepts. The CLI flags (cli/calc.ts) and the HTTP schemas (server/calc.ts) are both
 * built from these, so a value means the same and is refused the same way on every surface.
 */
import { z } from 'zod';
import { CALC_DTYPE_IDS, type CalcDtype } from './dtypes.js';
import { OPTIMIZERS, RECOMPUTE_MODES, TRAINING_PRECISIONS, type Optimizer } from './training.js';

const whole = (min: number, max: number) => z.number().int().min(min).max(max);
const real = (min: number, max: number) => z.number().min(min).max(max);
const gpu = z.string().min(1).max(100);
const dtype = z.enum(CALC_DTYPE_IDS as [CalcDtype, ...CalcDtype[]]);

/** trainingCost()'s options. */
export const TRAINING_FIELDS = {
  gpu,
  gpus: whole(1, 1_000_000),
  tokens: real(1, 1e18),
  mfu: real(0.001, 1),
  precision: z.enum(TRAINING_PRECISIONS),
  optimizer: z.enum(OPTIMIZERS as [Optimizer, ...Optimizer[]]),
  zeroStage: whole(0, 3),
  tensorParallel: whole(1, 1024),
  pipelineParallel: whole(1, 1024),
  recompute: z.enum(RECOMPUTE_MODES),
  microBatch: whole(1, 1_000_000),
  sequenceLength: whole(1, 100_000_000),
};

/** What serving a model on GPUs takes, for inferenceCost() and fitBudget(). */
const SERVING_FIELDS = {
  gpu,
  gpus: whole(1, 4096),
  weightDtype: dtype,
  kvDtype: dtype,
  batch: whole(1, 1_000_000),
};

/** inferenceCost()'s options (a context of 0 is the weights-only estimate). */
export const INFERENCE_FIELDS = {
  ...SERVING_FIELDS,
  contextTokens: whole(0, 100_000_000),
  promptTokens: whole(0, 100_000_000),
};

/** fitBudget()'s options. */
export const FIT_FIELDS = {
  ...SERVING_FIELDS,
  contextTokens: whole(1, 100_000_000),
  memoryBytesPerGpu: real(1, 1e15),
  memoryUtilization: real(0.01, 1),
};
