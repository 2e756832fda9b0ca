/**
 * The transformer-math routes: `POST /v1/calc/params`, `/v1/calc/train`, `/v1/calc/infer`, `/v1/calc/fit`.
 * `model` is an inline Hugging Face config object, a preset name, a catalogue alias or a model served at
 * start-up (its config.json is read once), or, with allowRemoteModels, a hub repo id; never a path from the
 * request. The other fields are the library's options, checked here before the math runs.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  CALC_DTYPE_IDS,
  MAX_CONFIG_BYTES,
  OPTIMIZERS,
  RECOMPUTE_MODES,
  TRAINING_PRECISIONS,
  type Optimizer,
  architectureFromHfConfig,
  countParameters,
  fitBudget,
  inferenceCost,
  loadArchitecture,
  loadHubArchitecture,
  modelPreset,
  trainingCost,
  type Architecture,
} from '../calc/index.js';
import { catalogEntry, type HubOptions } from '../hub/index.js';
import { parseBody } from './errors.js';
import { ModelAllowList } from './models.js';

export interface CalcPluginOptions {
  /** Hub settings for models given as repo ids. @default the environment's */
  hub?: Partial<HubOptions>;
  /** Models served to requests by name, as given at start-up (folders holding a config.json, hub ids). @default [] */
  models?: readonly string[];
  /** Request-given hub ids may be fetched (config.json only, at most MAX_CONFIG_BYTES). @default false */
  allowRemoteModels?: boolean;
}

const positive = z.number().positive().finite();
const count = z.number().int().min(1).max(1_000_000);
const dtype = z.enum(CALC_DTYPE_IDS as [string, ...string[]]);
const model = z.union([z.string().min(1).max(200), z.record(z.string(), z.unknown())]);

export const ParamsRequest = z.strictObject({ model });

export const TrainRequest = z.strictObject({
  model,
  tokens: positive.max(1e16).optional(),
  gpu: z.string().optional(),
  gpus: count.optional(),
  mfu: z.number().gt(0).max(1).optional(),
  precision: z.enum(TRAINING_PRECISIONS).optional(),
  optimizer: z.enum(OPTIMIZERS as [Optimizer, ...Optimizer[]]).optional(),
  zeroStage: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]).optional(),
  tensorParallel: count.optional(),
  pipelineParallel: count.optional(),
  recompute: z.enum(RECOMPUTE_MODES).optional(),
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
  const allowList = new ModelAllowList({
    served: options.models ?? [],
    builtin: (name) => modelPreset(name) !== undefined || catalogEntry(name.split('@')[0]) !== undefined,
    allowRemote: options.allowRemoteModels ?? false,
  });
  const hub = { ...options.hub, maxFileBytes: MAX_CONFIG_BYTES };
  const architecture = (ref: string | Record<string, unknown>): Promise<Architecture> => {
    if (typeof ref !== 'string') return Promise.resolve(architectureFromHfConfig(ref, 'request body "model"'));
    const allowed = allowList.resolve(ref);
    if (allowed.source === 'served') return loadArchitecture(allowed.ref, hub);
    return modelPreset(ref) ? loadArchitecture(ref) : loadHubArchitecture(ref, hub);
  };

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
