/**
 * One range per calc option: the schemas the CLI flags and the HTTP routes are built from refuse exactly what
 * the library refuses, at both ends of every numeric range, and every flag and field uses them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { fitBudget, inferenceCost, modelPreset, trainingCost } from '../../src/calc/index.js';
import { FIT_FIELDS, INFERENCE_FIELDS, TRAINING_FIELDS } from '../../src/calc/option-schemas.js';
import { FIT_FLAGS, INFER_FLAGS, TRAIN_FLAGS } from '../../src/cli/calc.js';
import { FitRequest, InferRequest, TrainRequest } from '../../src/server/calc.js';
import { isMoxingError } from '../../src/errors.js';

const model = modelPreset('llama-7b')!;
const surfaces = [
  { name: 'train', fields: TRAINING_FIELDS, flags: TRAIN_FLAGS, request: TrainRequest, run: (o: object) => trainingCost(model, o) },
  { name: 'infer', fields: INFERENCE_FIELDS, flags: INFER_FLAGS, request: InferRequest, run: (o: object) => inferenceCost(model, o) },
  { name: 'fit', fields: FIT_FIELDS, flags: FIT_FLAGS, request: FitRequest, run: (o: object) => fitBudget(model, o) },
] as const;

/** Whether the library refuses `options` as out of range (other refusals, such as gpus % tp, are not range ones). */
function outOfRange(run: (o: object) => unknown, options: object): boolean {
  try {
    run(options);
    return false;
  } catch (error) {
    assert.ok(isMoxingError(error, 'BAD_ARGUMENT'), String(error));
    return / must be /.test(error.message) && !/multiple of/.test(error.message);
  }
}

for (const { name, fields, run } of surfaces) {
  test(`calc ${name}: each numeric schema's bounds are the library's`, () => {
    for (const [field, schema] of Object.entries(fields)) {
      const shape = z.toJSONSchema(schema) as { type: string; minimum?: number; maximum?: number };
      if (shape.type !== 'number' && shape.type !== 'integer') continue;
      const { minimum: min, maximum: max } = shape;
      assert.ok(min !== undefined && max !== undefined, `${field} has both bounds`);
      const step = (v: number) => (shape.type === 'integer' ? 1 : Math.max(1e-9, Math.abs(v) * 1e-6));
      for (const [value, inside] of [[min, true], [max, true], [min - step(min), false], [max + step(max), false]] as const) {
        assert.equal(schema.safeParse(value).success, inside, `${name} schema ${field} = ${value}`);
        assert.equal(outOfRange(run, { [field]: value }), !inside, `${name} library ${field} = ${value}`);
      }
    }
  });

  test(`calc ${name}: the flags and the HTTP fields are the library's options, checked by the same schemas`, () => {
    assert.deepEqual(flagsFields(name).sort(), Object.keys(fields).sort());
    for (const flag of surfaces.find((s) => s.name === name)!.flags) assert.equal(flag.schema, fields[flag.field as keyof typeof fields], flag.field);
    const request = surfaces.find((s) => s.name === name)!.request;
    assert.deepEqual(Object.keys(request.shape).sort(), ['model', ...Object.keys(fields)].sort());
  });
}

function flagsFields(name: string): string[] {
  return surfaces.find((s) => s.name === name)!.flags.map((f) => f.field);
}
