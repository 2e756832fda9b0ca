import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MODEL_PRESETS, MODEL_PRESET_IDS, countParameters, modelPreset } from '../../src/calc/index.js';

const count = (id: keyof typeof MODEL_PRESETS) => countParameters(MODEL_PRESETS[id]);
const component = (id: keyof typeof MODEL_PRESETS, name: string) => count(id).breakdown.find((c) => c.name === name)?.parameters;

test('LLaMA-7B has exactly 6,738,415,616 parameters, by component', () => {
  const m = count('llama-7b');
  assert.equal(m.parameters, 6_738_415_616);
  assert.equal(component('llama-7b', 'token embeddings'), 32000 * 4096);
  assert.equal(component('llama-7b', 'lm head'), 32000 * 4096);
  assert.equal(component('llama-7b', 'attention'), 32 * 4 * 4096 * 4096);
  assert.equal(component('llama-7b', 'mlp'), 32 * 3 * 4096 * 11008);
  assert.equal(component('llama-7b', 'norms'), (2 * 32 + 1) * 4096);
});

test('every breakdown sums to its total and active never exceeds total', () => {
  for (const id of MODEL_PRESET_IDS) {
    const m = countParameters(MODEL_PRESETS[id]);
    assert.equal(m.breakdown.reduce((s, c) => s + c.parameters, 0), m.parameters, id);
    assert.ok(m.activeParameters <= m.parameters, id);
    assert.ok(Number.isSafeInteger(m.parameters), id);
  }
});

test('the other LLaMA sizes match the released checkpoints', () => {
  // Sums of the released weight shapes (also the Hugging Face num_parameters()).
  assert.equal(count('llama-13b').parameters, 13_015_864_320);
  assert.equal(count('llama-33b').parameters, 32_528_943_616);
  assert.equal(count('llama-65b').parameters, 65_285_660_672);
  assert.equal(count('llama2-70b').parameters, 68_976_648_192);
  assert.equal(count('mistral-7b').parameters, 7_241_732_096);
});

test('GPT-3 175B is 174.6B including embeddings', () => {
  const m = count('gpt3-175b');
  assert.equal(Math.round(m.parameters / 1e8) / 10, 174.6);
  // Embeddings: the 50257-token table and 2048 learned positions, both of width 12288.
  assert.equal(m.embeddingParameters, (50257 + 2048) * 12288);
});

test('PaLM 540B is 540.35B (parallel block, MQA, shared embeddings, no biases, SwiGLU)', () => {
  const m = count('palm-540b');
  // The paper's Table 1 gives 540.35B; the architecture sums to 540,356,474,880, which the paper truncates.
  assert.ok(Math.abs(m.parameters - 540.35e9) < 0.01e9, String(m.parameters));
  assert.equal(m.parameters, 540_356_474_880);
  assert.equal(component('palm-540b', 'lm head'), undefined, 'the output shares the input embeddings');
  // One bias-free LayerNorm (scale only) per parallel block plus the final one.
  assert.equal(component('palm-540b', 'norms'), (118 + 1) * 18432);
  // Multi-query: one 256-wide key and value head next to 48 query heads.
  assert.equal(component('palm-540b', 'attention'), 118 * (18432 * 48 * 256 * 2 + 2 * 18432 * 256));
});

test('BLOOM 176B matches its model card exactly, embedding LayerNorm included', () => {
  assert.equal(count('bloom-176b').parameters, 176_247_271_424);
  assert.equal(component('bloom-176b', 'embedding norm'), 2 * 14336);
  assert.equal(component('bloom-176b', 'position embeddings'), undefined, 'ALiBi has no position parameters');
});

test('GLM-130B sums its published configuration', () => {
  // 70 layers of 12288 with GeGLU (inner 32768) and a 150528-token vocabulary: 128.7B, which the name rounds.
  const m = count('glm-130b');
  assert.equal(m.parameters, 128_697_794_560);
  assert.ok(m.parameters > 125e9 && m.parameters < 135e9);
});

test('Mixtral is sized by total parameters and reports the active ones', () => {
  const m = count('mixtral-8x7b');
  assert.equal(m.parameters, 46_702_792_704);
  assert.equal(m.activeParameters, 12_879_925_248);
  assert.equal(m.experts?.count, 8);
});

test('Whisper sizes match the Hugging Face checkpoints', () => {
  assert.equal(count('whisper-tiny').parameters, 37_760_640);
  assert.equal(count('whisper-base').parameters, 72_593_920);
  assert.equal(count('whisper-small').parameters, 241_734_912);
  assert.equal(count('whisper-medium').parameters, 763_857_920);
  assert.equal(count('whisper-large-v2').parameters, 1_543_304_960);
  // large-v3: 128 mel bins and one more token.
  assert.equal(count('whisper-large-v3').parameters - count('whisper-large-v2').parameters, (128 - 80) * 3 * 1280 + 1280);
  assert.equal(count('whisper-large-v3').parameters, 1_543_490_560);
  assert.equal(count('whisper-large-v3-turbo').parameters, 808_878_080);
  const tiny = count('whisper-tiny');
  assert.equal(tiny.encoderParameters + tiny.decodeParameters, tiny.parameters);
});

test('DINOv2 sizes match the published ViT-S/B/L/g', () => {
  assert.equal(count('dinov2-small').parameters, 22_056_576);
  assert.equal(count('dinov2-base').parameters, 86_580_480);
  assert.equal(count('dinov2-large').parameters, 304_368_640);
  // ViT-g/14 with SwiGLU: hidden width (⌊6144·2/3⌋ + 7) rounded to a multiple of 8 = 4096.
  assert.equal(count('dinov2-giant').parameters, 1_136_480_768);
});

test('preset aliases resolve and unknown names do not', () => {
  assert.equal(modelPreset('LLaMA-30B'), MODEL_PRESETS['llama-33b']);
  assert.equal(modelPreset('whisper-large'), MODEL_PRESETS['whisper-large-v2']);
  assert.equal(modelPreset('llama-8b'), undefined);
});
