/**
 * The transformer-math routes: `POST /v1/calc/params`, `/v1/calc/train`, `/v1/calc/infer`, `/v1/calc/fit`.
 * `model` is an inline Hugging Face config object, a preset name, a catalogue alias or a model served at
 * start-up (its config.json is read once), or, with allowRemoteModels, a hub repo id; never a path from the
 * request. The other fields are the library's options, checked here before the math runs.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  MAX_CONFIG_BYTES,
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
import { FIT_FIELDS, INFERENCE_FIELDS, TRAINING_FIELDS } from '../calc/option-schemas.js';
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

const model = z.union([z.string().min(1).max(200), z.record(z.string(), z.unknown())]);

/** A request: `model` and the library's options by their own names, each checked as the CLI flag checks it. */
const request = <T extends z.ZodRawShape>(fields: T) => z.strictObject({ model, ...fields }).partial().required({ model: true });

export const ParamsRequest = z.strictObject({ model });
export const TrainRequest = request(TRAINING_FIELDS);
export const InferRequest = request(INFERENCE_FIELDS);
export const FitRequest = request(FIT_FIELDS);

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
