import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isMoxingError } from '../../src/errors.js';
import { snapshotDir } from '../../src/hub/index.js';
import {
  MODEL_PRESETS, architectureFromHfConfig, countParameters, loadArchitecture, resolveArchitecture,
} from '../../src/calc/index.js';

const shared = resolve(process.cwd(), '../shared');
const dir = mkdtempSync(join(tmpdir(), 'moxing-calc-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function writeConfig(config: unknown): string {
  const path = join(dir, `config-${n++}.json`);
  writeFileSync(path, typeof config === 'string' ? config : JSON.stringify(config));
  return path;
}
const params = (config: unknown) => countParameters(architectureFromHfConfig(config)).parameters;

// The keys below are those of the real config.json files on the hub (trimmed to what the counts use).
const LLAMA_7B = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 4096, intermediate_size: 11008, num_attention_heads: 32,
  num_hidden_layers: 32, vocab_size: 32000, max_position_embeddings: 2048, rms_norm_eps: 1e-6, tie_word_embeddings: false,
};

test('a real Whisper config.json (shared/whisper/tokenizer) loads as whisper-tiny', () => {
  const arch = resolveArchitecture(join(shared, 'whisper/tokenizer/config.json'));
  assert.equal(arch.kind, 'whisper');
  assert.equal(countParameters(arch).parameters, countParameters(MODEL_PRESETS['whisper-tiny']).parameters);
});

test('llama, mistral, mixtral configs equal the presets', () => {
  assert.equal(params(LLAMA_7B), 6_738_415_616);
  const mistral = { model_type: 'mistral', hidden_size: 4096, intermediate_size: 14336, num_attention_heads: 32, num_key_value_heads: 8, num_hidden_layers: 32, vocab_size: 32000, max_position_embeddings: 32768, tie_word_embeddings: false };
  assert.equal(params(mistral), countParameters(MODEL_PRESETS['mistral-7b']).parameters);
  const mixtral = countParameters(architectureFromHfConfig({ ...mistral, model_type: 'mixtral', num_local_experts: 8, num_experts_per_tok: 2 }));
  assert.equal(mixtral.parameters, 46_702_792_704);
  assert.equal(mixtral.activeParameters, 12_879_925_248);
});

test('qwen2, gpt2, gpt_neox, bloom and dinov2 configs give the published counts', () => {
  // Qwen2-0.5B: q/k/v biases, GQA with 2 KV heads, tied embeddings.
  assert.equal(params({ model_type: 'qwen2', hidden_size: 896, intermediate_size: 4864, num_attention_heads: 14, num_key_value_heads: 2, num_hidden_layers: 24, vocab_size: 151936, max_position_embeddings: 32768, tie_word_embeddings: true }), 494_032_768);
  // gpt2 (124M): n_inner null means 4 × n_embd.
  assert.equal(params({ model_type: 'gpt2', n_embd: 768, n_head: 12, n_layer: 12, n_positions: 1024, n_inner: null, vocab_size: 50257 }), 124_439_808);
  // EleutherAI/pythia-70m: untied embed_out.
  assert.equal(params({ model_type: 'gpt_neox', hidden_size: 512, intermediate_size: 2048, num_attention_heads: 8, num_hidden_layers: 6, vocab_size: 50304, max_position_embeddings: 2048, tie_word_embeddings: false }), 70_426_624);
  // bigscience/bloom-560m uses the old n_layer / n_head keys.
  assert.equal(params({ model_type: 'bloom', hidden_size: 1024, n_head: 16, n_layer: 24, vocab_size: 250880 }), 559_214_592);
  assert.equal(params({ model_type: 'dinov2', hidden_size: 384, num_hidden_layers: 12, num_attention_heads: 6, mlp_ratio: 4, image_size: 518, patch_size: 14, use_swiglu_ffn: false, qkv_bias: true }), 22_056_576);
  assert.equal(params({ model_type: 'dinov2', hidden_size: 1536, num_hidden_layers: 40, num_attention_heads: 24, mlp_ratio: 4, image_size: 518, patch_size: 14, use_swiglu_ffn: true }), 1_136_480_768);
});

test('a folder with a config.json loads; presets win over paths', () => {
  const folder = join(dir, 'llama-folder');
  mkdirSync(folder);
  writeFileSync(join(folder, 'config.json'), JSON.stringify(LLAMA_7B));
  assert.equal(countParameters(resolveArchitecture(folder)).parameters, 6_738_415_616);
  assert.equal(resolveArchitecture('llama-7b'), MODEL_PRESETS['llama-7b']);
});

function rejects(fn: () => unknown, code: Parameters<typeof isMoxingError>[1], pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => isMoxingError(error, code) && pattern.test((error as Error).message));
}

test('malformed configs are CONFIG_INVALID with the field named', () => {
  rejects(() => resolveArchitecture(writeConfig('{"model_type": "llama",')), 'CONFIG_INVALID', /not valid JSON/);
  rejects(() => resolveArchitecture(writeConfig([1, 2])), 'CONFIG_INVALID', /JSON object/);
  rejects(() => resolveArchitecture(writeConfig({ model_type: 't5', d_model: 512 })), 'CONFIG_INVALID', /"t5" is not supported.*llama/);
  rejects(() => resolveArchitecture(writeConfig({ ...LLAMA_7B, hidden_size: undefined })), 'CONFIG_INVALID', /"hidden_size" is missing/);
  rejects(() => resolveArchitecture(writeConfig({ ...LLAMA_7B, num_hidden_layers: -3 })), 'CONFIG_INVALID', /"num_hidden_layers" must be a positive whole number/);
  rejects(() => resolveArchitecture(writeConfig({ ...LLAMA_7B, vocab_size: '32000' })), 'CONFIG_INVALID', /"vocab_size"/);
  rejects(() => resolveArchitecture(writeConfig({ ...LLAMA_7B, num_key_value_heads: 5 })), 'CONFIG_INVALID', /multiple of num_key_value_heads/);
  rejects(() => resolveArchitecture(writeConfig({ ...LLAMA_7B, tie_word_embeddings: 'yes' })), 'CONFIG_INVALID', /true or false/);
});

test('unknown models and folders without a config are clear errors', () => {
  rejects(() => resolveArchitecture('llama-8b'), 'MODEL_UNKNOWN', /unknown model "llama-8b".*llama-7b/);
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  rejects(() => resolveArchitecture(empty), 'FILE_NOT_FOUND', /no config\.json/);
});

test('a hub id reads config.json from the hub cache, and offline without it names the fix', async () => {
  const cacheDir = join(dir, 'cache');
  const snapshot = snapshotDir(cacheDir, 'someone/tiny-llama', 'main');
  mkdirSync(snapshot, { recursive: true });
  writeFileSync(join(snapshot, 'config.json'), JSON.stringify(LLAMA_7B));
  const arch = await loadArchitecture('someone/tiny-llama', { cacheDir, offline: true });
  assert.equal(countParameters(arch).parameters, 6_738_415_616);
  await assert.rejects(loadArchitecture('someone/absent', { cacheDir, offline: true }), (e: unknown) => isMoxingError(e, 'MODEL_OFFLINE'));
  await assert.rejects(loadArchitecture('nonsense-name', { cacheDir, offline: true }), (e: unknown) => isMoxingError(e, 'MODEL_UNKNOWN'));
});
