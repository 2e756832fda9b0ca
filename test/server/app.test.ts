/** The HTTP app through fastify's inject: the transformer-math routes and the shared error format. */
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import assert from 'node:assert/strict';
import { buildApp } from '../../src/server/index.js';
import { countParameters, MODEL_PRESETS, trainingCost } from '../../src/calc/index.js';

// One suite, so that its hooks stay its own when the runner imports it beside other files in one process.
describe('server/app', () => {
  let app: FastifyInstance;
  let remoteApp: FastifyInstance;
  before(async () => {
    app = await buildApp({ images: false, calc: { hub: { offline: true } } });
    remoteApp = await buildApp({ images: false, calc: { hub: { offline: true } }, security: { allowRemoteModels: true } });
  });
  after(() => Promise.all([app.close(), remoteApp.close()]));

  async function post(url: string, payload: unknown, on = app) {
    const response = await on.inject({ method: 'POST', url, payload: payload as object });
    return { status: response.statusCode, body: response.json() };
  }

  test('/v1/calc/params gives the exact LLaMA-7B count, from a preset and from an inline config', async () => {
    const preset = await post('/v1/calc/params', { model: 'llama-7b' });
    assert.equal(preset.status, 200);
    assert.equal(preset.body.parameters, 6_738_415_616);
    const inline = await post('/v1/calc/params', {
      model: { model_type: 'llama', hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32, vocab_size: 32000, max_position_embeddings: 2048 },
    });
    assert.equal(inline.status, 200);
    assert.equal(inline.body.parameters, countParameters(MODEL_PRESETS['llama-7b']).parameters);
  });

  test('/v1/calc/train, /infer and /fit answer what the library computes', async () => {
    const train = await post('/v1/calc/train', { model: 'llama-7b', tokens: 1e12, gpus: 8, recompute: 'selective' });
    assert.equal(train.status, 200);
    assert.deepEqual(train.body, JSON.parse(JSON.stringify(trainingCost('llama-7b', { tokens: 1e12, gpus: 8, recompute: 'selective' }))));
    const infer = await post('/v1/calc/infer', { model: 'llama2-70b', gpu: 'h100-sxm', gpus: 2, batch: 16, contextTokens: 4096, kvDtype: 'fp8' });
    assert.equal(infer.status, 200);
    // GQA: 80 layers x 8 KV heads x 128 dims x 2 (K and V) x 1 byte (fp8).
    assert.equal(infer.body.kvCacheBytesPerToken, 163_840);
    const fit = await post('/v1/calc/fit', { model: 'mistral-7b', gpu: 'rtx-4090', weightDtype: 'q4_k_m' });
    assert.equal(fit.status, 200);
    assert.ok(fit.body.maxContextTokens > 0);
  });

  test('bad requests get { error: { code, message } } with the code status', async () => {
    const unknownModel = await post('/v1/calc/params', { model: 'gpt-17' });
    assert.equal(unknownModel.status, 404);
    assert.equal(unknownModel.body.error.code, 'MODEL_UNKNOWN');
    const negative = await post('/v1/calc/train', { model: 'llama-7b', gpus: -4 });
    assert.equal(negative.status, 400);
    assert.equal(negative.body.error.code, 'BAD_ARGUMENT');
    assert.match(negative.body.error.message, /gpus/);
    const unknownField = await post('/v1/calc/infer', { model: 'llama-7b', batchSize: 4 });
    assert.equal(unknownField.status, 400);
    assert.match(unknownField.body.error.message, /batchSize/);
    const badConfig = await post('/v1/calc/params', { model: { model_type: 'llama', hidden_size: 'big' } });
    assert.equal(badConfig.status, 422);
    assert.equal(badConfig.body.error.code, 'CONFIG_INVALID');
    const notServed = await post('/v1/calc/params', { model: 'Qwen/Qwen2-0.5B' });
    assert.equal(notServed.status, 404);
    assert.equal(notServed.body.error.code, 'MODEL_UNKNOWN');
    const offlineHub = await post('/v1/calc/params', { model: 'Qwen/Qwen2-0.5B' }, remoteApp);
    assert.equal(offlineHub.status, 503);
    assert.equal(offlineHub.body.error.code, 'MODEL_OFFLINE');
    const noRoute = await app.inject({ method: 'GET', url: '/v1/nothing' });
    assert.equal(noRoute.statusCode, 404);
    assert.equal(noRoute.json().error.code, 'NOT_FOUND');
    const badJson = await app.inject({ method: 'POST', url: '/v1/calc/params', payload: '{"model":', headers: { 'content-type': 'application/json' } });
    assert.equal(badJson.statusCode, 400);
    assert.equal(badJson.json().error.code, 'BAD_ARGUMENT');
  });

  test('/health answers ok', async () => {
    const response = await app.inject({ method: 'GET', url: '/health' });
    assert.deepEqual(response.json(), { status: 'ok' });
  });
});
