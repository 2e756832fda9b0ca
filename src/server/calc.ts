/**
 * The transformer-math routes: `POST /v1/calc/params`, `/v1/calc/train`, `/v1/calc/infer`, `/v1/calc/fit`.
 * `model` is a preset name, a hub repo id (its config.json is fetched once) or an inline Hugging Face
 * config object; the other fields are the library's options, checked here before the math runs.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  CALC_DTYPE_IDS,
  architectureFromHfConfig,
  countParameters,
  fitBudget,
  inferenceCost,
  loadArchitecture,
  trainingCost,
  type Architecture,
} from '../calc/index.js';
import type { HubOptions } from '../hub/index.js';
import { parseBody } from './errors.js';

export interface CalcPluginOptions {
  /** Hub settings for models given as repo ids. @default the environment's */
  hub?: Partial<HubOptions>;
}

const positive = z.number().positive().finite();
const count = z.number().int().min(1).max(1_000_000);
const dtype = z.enum(CALC_DTYPE_IDS as [string, ...string[]]);
const model = z.union([z.string().min(1), z.record(z.string(), z.unknown())]);

export const ParamsRequest = z.strictObject({ model });

export const TrainRequest = z.strictObject({
  model,
  tokens: positive.max(1e16).optional(),
  gpu: z.string().optional(),
  gpus: count.optional(),
  mfu: z.number().gt(0).max(1).optional(),
  precision: z.enum(['fp32', 'fp16', 'bf16']).optional(),
  optimizer: z.enum(['adamw', 'adam8bit', 'sgd']).optional(),
  zeroStage: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]).optional(),
  tensorParallel: count.optional(),
  pipelineParallel: count.optional(),
  recompute: z.enum(['none', 'selective', 'full']).optional(),
  microBatch: count.optional(),
  sequenceLength: count.optional(),
});

export const InferRequest = z.strictObject({
  model,
  gpu: z.string().optional(),
  gpus: count.optional(),
  weightDtype: dtype.optional(),
  kvDtype: dtype.optional(),
  batch: count.optional(),
  contextTokens: count.optional(),
  promptTokens: count.optional(),
});

export const FitRequest = z.strictObject({
  model,
  gpu: z.string().optional(),
  gpus: count.optional(),
  memoryBytesPerGpu: positive.max(1e13).optional(),
  memoryUtilization: z.number().gt(0).max(1).optional(),
  weightDtype: dtype.optional(),
  kvDtype: dtype.optional(),
  batch: count.optional(),
  contextTokens: count.optional(),
});

export async function calcPlugin(app: FastifyInstance, options: CalcPluginOptions): Promise<void> {
  const architecture = (ref: string | Record<string, unknown>): Promise<Architecture> =>
    typeof ref === 'string' ? loadArchitecture(ref, options.hub ?? {}) : Promise.resolve(architectureFromHfConfig(ref, 'request body "model"'));

  app.post('/v1/calc/params', async (request) => {
    const { model: ref } = parseBody(ParamsRequest, request.body);
    return countParameters(await architecture(ref));
  });
  app.post('/v1/calc/train', async (request) => {
    const { model: ref, ...rest } = parseBody(TrainRequest, request.body);
    return trainingCost(await architecture(ref), rest as Parameters<typeof trainingCost>[1]);
  });
  app.post('/v1/calc/infer', async (request) => {
    const { model: ref, ...rest } = parseBody(InferRequest, request.body);
    return inferenceCost(await architecture(ref), rest as Parameters<typeof inferenceCost>[1]);
  });
  app.post('/v1/calc/fit', async (request) => {
    const { model: ref, ...rest } = parseBody(FitRequest, request.body);
    return fitBudget(await architecture(ref), rest as Parameters<typeof fitBudget>[1]);
  });
}
