/**
 * The decoding options' schemas are the one place their ranges live: the CLI's flags use them as they are,
 * and whatever they accept the library accepts too (so no surface lets through what transcribe() refuses).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { resolveTranscribeOptions } from '../../../src/asr/whisper/transcribe-options.js';
import { DECODING_FIELDS } from '../../../src/asr/whisper/option-schemas.js';
import { DECODING_FLAGS } from '../../../src/cli/transcribe.js';

test('every decoding schema is a CLI flag checked by that very schema', () => {
  for (const [field, schema] of Object.entries(DECODING_FIELDS)) {
    const flag = DECODING_FLAGS.find((f) => f.field === field);
    assert.ok(flag, `no flag for ${field}`);
    assert.equal(flag.schema, schema, field);
  }
});

test('the values at the ends of each range (and every choice) are ones the library accepts', () => {
  for (const [field, schema] of Object.entries(DECODING_FIELDS)) {
    const shape = z.toJSONSchema(schema) as { enum?: string[]; minimum?: number; maximum?: number };
    const values = shape.enum ?? [shape.minimum ?? -1e6, shape.maximum ?? 1e6];
    for (const value of values) {
      assert.ok(schema.safeParse(value).success, `${field} = ${value}`);
      // hallucinationSilenceThreshold works on word times: it comes with wordTimestamps.
      const extra = field === 'hallucinationSilenceThreshold' ? { wordTimestamps: true } : {};
      assert.doesNotThrow(() => resolveTranscribeOptions({ [field]: value, ...extra }), `${field} = ${value}`);
    }
  }
});
