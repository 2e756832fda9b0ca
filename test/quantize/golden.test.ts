/**
 * Byte-identity of the graph rewrite: the quantized bytes of the shared Whisper fixture, for every method and
 * target (and the knobs that change the graph), hashed. The hashes were taken from the rewrite as it was before
 * it was split into a graph index and one rewriter per op (the 214-line `rewriteModel`), so a refactor that
 * changes a single byte (a name, an initializer's place, a node's order) fails here. (At the split, a temporary
 * copy of the old function also gave the new one's bytes and stats on 176 model/settings pairs: these files,
 * Silero, ViT, wav2vec2 and the generated Whisper models.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { quantizeModel, type QuantizeOptions } from '../../src/quantize/index.js';
import { decodeModel, encodeModel, node, onnx, tensorProto, type ModelProto } from '../../src/runtime/onnx/index.js';

const FIXTURE = fileURLToPath(new URL('../../../shared/models/whisper-tiny-random/onnx/', import.meta.url));

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The fixture files' own hashes: if these change, the expected outputs below must be recomputed. */
const INPUTS: Record<string, string> = {
  'encoder_model.onnx': '91ddc3da44d78f7da7935bae1951c388f69269ab6cf40611a59d2925f9b4b9d9',
  'decoder_model_merged.onnx': 'bee18254dab3886d46b6cee03cb972bf15c01295af940459e077e9407f8490ef',
};
/** The in-memory model of edgeCaseModel(), hashed beside the files. */
const EDGE_CASES = 'edge-case graph';
const FILES = [...Object.keys(INPUTS), EDGE_CASES];

const CASES: readonly { readonly label: string; readonly options: Partial<QuantizeOptions>; readonly sha256: Record<string, string> }[] = [
  {
    label: 'q8 dynamic',
    options: { to: 'q8', method: 'dynamic' },
    sha256: {
      'encoder_model.onnx': 'ba02ce75f910c572c55dc8acd6eface640370ff02b90eed56e2e92d3fad2f8ff',
      'decoder_model_merged.onnx': '160fba45f48317da08a0918e8df4cc6dc9b5efd3c94440a83f9bc532a533c881',
      'edge-case graph': 'ac54d5353b40e740c1af2c88244e826bdd3372f0456389e342b27a9a6589117c',
    },
  },
  {
    label: 'q8 dynamic + activation MatMuls',
    options: { to: 'q8', method: 'dynamic', activationMatMuls: true },
    sha256: {
      'encoder_model.onnx': 'ae019e73e3f7febbc655f9f9d4c4197972e23e106d24478a643239231e2e4b22',
      'decoder_model_merged.onnx': '160fba45f48317da08a0918e8df4cc6dc9b5efd3c94440a83f9bc532a533c881',
      'edge-case graph': '6512c861f9bb0361702a81237e623d2d2ca51eccce1cd5e7210a8670119aeacc',
    },
  },
  {
    label: 'q8 dynamic, embeddings kept float',
    options: { to: 'q8', method: 'dynamic', embeddingMinElements: 2 ** 40 },
    sha256: {
      'encoder_model.onnx': 'ba02ce75f910c572c55dc8acd6eface640370ff02b90eed56e2e92d3fad2f8ff',
      'decoder_model_merged.onnx': '0267ead429e9a1b8cfe762fd1461e5f45d7ff18247a5fe68686775fbb7a29144',
      'edge-case graph': 'afaa03e1d4f5151cdadb9fd89bf2495095899cd3733f946cceb17e20f5d669d5',
    },
  },
  {
    label: 'q8 matmulnbits',
    options: { to: 'q8', method: 'matmulnbits' },
    sha256: {
      'encoder_model.onnx': 'e0590c8c8380c80b026cfb002939d4bc31ea9ffa1912976572ec17a9dcc4b54f',
      'decoder_model_merged.onnx': '1d312cc3d23c9eebdbb6560592274bad786fb0ed4ecec0d2211f0f26f80b86f6',
      'edge-case graph': '94907976e9b5d9639f8f7c1252a1e8ff76c1deea9358a534619ea34114d75d18',
    },
  },
  {
    label: 'q4 matmulnbits',
    options: { to: 'q4', method: 'matmulnbits' },
    sha256: {
      'encoder_model.onnx': '9819f0c402864133e39f7cc3b89b3e47d7c66db2357d6941efe025b0372ab1c4',
      'decoder_model_merged.onnx': 'e24bc790a6a76cc92d5ec02d98571023aa0de3851a84757661fd9db5d1920a64',
      'edge-case graph': 'a1b468526c81d0fde6e157d45341f5e93b2a46bd01bdb67c71f88a487adac682',
    },
  },
  {
    label: 'q4 matmulnbits symmetric, block 64, accuracy 0',
    options: { to: 'q4', symmetric: true, blockSize: 64, accuracyLevel: 0 },
    sha256: {
      'encoder_model.onnx': 'bdded399d224d396f4c7650d183eb6000d5651d4de880d46dccdfc93e0d5baa9',
      'decoder_model_merged.onnx': 'a04fb11a0183881cd3f5f86dcf16712e1731f80869bccc355959253e1961f3ed',
      'edge-case graph': '1a58dc8818edb3faf7ca70cc7f24eadd519bd9f44dd90d0e553c104e4e1c29d5',
    },
  },
];

function seeded(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}

function valueInfo(name: string, dims: number[]) {
  return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
}

/**
 * The cases the Whisper graphs lack, in one graph: a weight read twice, a tied head through Transpose, tables
 * gathered on axis 0 and 1, a 3-D weight, a Transpose that is not [1, 0], activation MatMuls whose Kᵀ has one or
 * two readers, Softmax and Constant inputs, a nameless node, a name that is taken, and IR 3 initializers among
 * the inputs.
 */
function edgeCaseModel(): ModelProto {
  const init = [
    tensorProto('w', [8, 6], seeded(48, 1)),
    tensorProto('e', [10, 8], seeded(80, 2)),
    tensorProto('e2', [10, 8], seeded(80, 3)),
    tensorProto('w3', [2, 8, 6], seeded(96, 4)),
    tensorProto('wp', [6, 8], seeded(48, 5)),
    tensorProto('w_int8', [1], seeded(1, 6)),
  ];
  return onnx.ModelProto.create({
    irVersion: 3,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'edges',
      node: [
        node('MatMul', ['x', 'w'], ['y1'], 'first'),
        node('MatMul', ['x', 'w'], ['y1b'], ''),
        node('Transpose', ['e'], ['e_t'], 'tie', { perm: [1, 0] }),
        node('MatMul', ['x', 'e_t'], ['logits'], 'head'),
        node('Gather', ['e', 'ids'], ['emb'], 'embed', { axis: 0 }),
        node('Gather', ['e2', 'ids'], ['cols'], 'columns', { axis: 1 }),
        node('MatMul', ['x', 'w3'], ['y3'], 'batched'),
        node('Transpose', ['wp'], ['wp_t'], 'odd', { perm: [0, 1] }),
        node('MatMul', ['x', 'wp_t'], ['y4'], 'odd_perm'),
        node('Transpose', ['k'], ['k_t'], 'k_transpose', { perm: [0, 2, 1] }),
        node('MatMul', ['q', 'k_t'], ['scores'], 'qk'),
        node('Transpose', ['k2'], ['k2_t'], 'k2_transpose', { perm: [0, 2, 1] }),
        node('MatMul', ['q', 'k2_t'], ['scores2'], 'qk2'),
        node('Softmax', ['scores'], ['probs'], 'softmax', { axis: -1 }),
        node('MatMul', ['probs', 'v'], ['context'], 'pv'),
        node('Constant', [], ['c'], 'constant'),
        node('MatMul', ['q', 'c'], ['yc'], 'qc'),
        node('MatMul', ['scores', 'v'], ['yv'], ''),
      ],
      initializer: init,
      input: [
        valueInfo('x', [2, 8]),
        valueInfo('ids', [3]),
        valueInfo('q', [2, 4, 8]),
        valueInfo('k', [2, 4, 8]),
        valueInfo('k2', [2, 4, 8]),
        valueInfo('v', [2, 4, 8]),
        ...init.map((t) => valueInfo(t.name ?? '', (t.dims ?? []).map(Number))),
      ],
      output: ['y1', 'y1b', 'logits', 'emb', 'cols', 'y3', 'y4', 'scores', 'scores2', 'k2_t', 'context', 'yc', 'yv'].map((name) => valueInfo(name, [])),
    },
  });
}

function quantizedHash(file: string, options: Partial<QuantizeOptions>): string {
  if (file !== EDGE_CASES) {
    const model = decodeModel(readFileSync(FIXTURE + file));
    quantizeModel(model, options);
    return sha256(encodeModel(model));
  }
  // Its tables are small: lower the embedding threshold (unless the case raises it).
  const model = edgeCaseModel();
  quantizeModel(model, { embeddingMinElements: 64, ...options });
  return sha256(encodeModel(model));
}

test('the fixture files are the ones the hashes were taken from', () => {
  for (const [file, hash] of Object.entries(INPUTS)) assert.equal(sha256(readFileSync(FIXTURE + file)), hash, `${file} changed: recompute the expected hashes`);
});

test('quantizing is deterministic: the same input gives the same bytes twice', () => {
  for (const file of ['encoder_model.onnx', EDGE_CASES]) {
    const options = { to: 'q8', activationMatMuls: true } as const;
    assert.equal(quantizedHash(file, options), quantizedHash(file, options), file);
  }
});

// A failure prints every file's hash: after an intended change of the output, paste them here.
for (const { label, options, sha256: expected } of CASES) {
  test(`${label}: the quantized files have the recorded bytes`, () => {
    assert.deepEqual(Object.fromEntries(FILES.map((file) => [file, quantizedHash(file, options)])), expected);
  });
}
