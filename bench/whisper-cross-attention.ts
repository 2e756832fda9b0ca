/**
 * `tsx bench/whisper-cross-attention.ts [--threads 2] [--rounds 40]`: one decoder layer's cross-attention at a
 * cached step, with its K/V in each dtype ONNX Runtime's CPU kernels accept, at 1 and 8 rows. At 8 rows a base
 * step reads 295 MB of fp32 cross-attention K/V against 77 MB of q8 weights: would a cheaper dtype make it cheaper?
 *
 * The K/V are the base-sized model's own: its first pass over 8 windows of espeak-ng speech, all 6 layers, so that
 * runs taking turns read them from memory, not from cache (147 MB of keys at 8 rows). The queries are keys of other
 * positions scaled by 1/8, as the export scales Q; the softmax weights are those of the fp32 scores.
 * Scores, Q·Kᵀ:
 * - fp32: MatMul(Q, Transpose(K)), as exported (ORT fuses the Transpose into the product);
 * - fp32, keys as A: MatMul(K, Q as [64, 1]), so that MLAS packs only Q;
 * - fp16: the same as exported over float16 (Q cast in the graph, the scores cast back);
 * - int8, keys as B: DynamicQuantizeLinear(Q), MatMulInteger over keys int8 [64, 1500] with a scale per position;
 * - int8, keys as A: keys uint8 [1500, 64] (zero point 128, a scale per position) times Q int8 [64, 1] (a scale per
 *   row and head), so MLAS packs only Q.
 * Output, P·V:
 * - fp32 and fp16 as above, and fp32 values as A: MatMul(Vᵀ [64, 1500], P as [1500, 1]);
 * - int8: Vᵀ uint8 [64, 1500] (zero point 128, a scale per channel) times P uint8 [1500, 1] (a scale per row and head).
 * Prints each one's median time over the rounds (all taking turns) and its largest error against fp32.
 */
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { logMelSpectrogram, decodeAudio, padOrTrim, N_SAMPLES } from '../src/audio/index.js';
import { WhisperModel } from '../src/asr/whisper/index.js';
import { float32ToFloat16 } from '../src/runtime/float16.js';
import { encodeModel, node, onnx, type NodeProto, type TensorProto } from '../src/runtime/onnx/proto.js';
import { BASE_WHISPER, BENCH_MODELS_DIR, ensureWhisperModel } from '../test/models/index.js';
import { printTable } from './lib.js';
import { speechWav } from './speech-audio.js';

const { values } = parseArgs({ options: { threads: { type: 'string', default: '2' }, rounds: { type: 'string', default: '40' } } });
const DT = onnx.TensorProto.DataType;
const ROWS = 8;

const modelDir = await ensureWhisperModel(BASE_WHISPER, { root: BENCH_MODELS_DIR });
const model = await WhisperModel.load(modelDir, { runtime: { intraOpThreads: Number(values.threads) } });
const { decoderHeads: H, headDim: D, nAudioCtx: T, decoderLayers } = model.dims;

// The model's cross-attention K/V of 8 speech windows: [layer] → [8, H, T, D].
const samples = await decodeAudio(speechWav(ROWS * 30));
const mel = new Float32Array(ROWS * model.dims.nMels * 3000);
for (let r = 0; r < ROWS; r++) mel.set(logMelSpectrogram(padOrTrim(samples.subarray(r * N_SAMPLES, (r + 1) * N_SAMPLES)), model.dims.nMels as 80).data.subarray(0, model.dims.nMels * 3000), r * model.dims.nMels * 3000);
const features = await model.encode(mel, ROWS);
const presents = await model.decoder.first.run(model.decoder.firstPassFeeds(Array.from({ length: ROWS }, () => [model.tokenizer.sot]), features.tensor));
const layerKV = (layer: number, kind: 'key' | 'value'): Float32Array => presents[`present.${layer}.encoder.${kind}`].data as Float32Array;

const valueInfo = (name: string, type: number, dims: readonly number[]) => ({ name, type: { tensorType: { elemType: type, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
const scalar = (name: string, type: number, value: number): TensorProto =>
  type === DT.FLOAT ? onnx.TensorProto.create({ name, dims: [], dataType: type, floatData: [value] }) : onnx.TensorProto.create({ name, dims: [], dataType: type, rawData: Uint8Array.of(value) });
const shape = (name: string, dims: readonly number[]): TensorProto => onnx.TensorProto.create({ name, dims: [dims.length], dataType: DT.INT64, int64Data: [...dims] });

interface Variant {
  readonly name: string;
  readonly session: ort.InferenceSession;
  /** Feeds for rows `rows` of layer `layer`'s K/V. */
  readonly feeds: (rows: number, layer: number) => Record<string, ort.Tensor>;
}

async function session(nodes: NodeProto[], inputs: ReturnType<typeof valueInfo>[], output: ReturnType<typeof valueInfo>, initializer: TensorProto[] = []): Promise<ort.InferenceSession> {
  const graph = { name: 'cross_attention', node: nodes, input: inputs, output: [output], initializer };
  const bytes = encodeModel(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph }));
  return ort.InferenceSession.create(bytes, { intraOpNumThreads: Number(values.threads), extra: { session: { intra_op: { allow_spinning: '0' } } } });
}

/** Per-(row, head) symmetric int8 of the last axis, as uint8 around 128 or as int8; and its scales. */
function quantizeRows(x: Float32Array, width: number, unsigned: boolean): { q: Uint8Array | Int8Array; scales: Float32Array } {
  const rows = x.length / width;
  const scales = new Float32Array(rows);
  const q = unsigned ? new Uint8Array(x.length) : new Int8Array(x.length);
  for (let r = 0; r < rows; r++) {
    let max = 0;
    for (let i = r * width; i < (r + 1) * width; i++) max = Math.max(max, Math.abs(x[i]));
    const scale = max / 127 || 1;
    scales[r] = scale;
    for (let i = r * width; i < (r + 1) * width; i++) q[i] = Math.round(x[i] / scale) + (unsigned ? 128 : 0);
  }
  return { q, scales };
}

/** [rows, H, T, D] → [rows, H, D, T]. */
function transposeLast(x: Float32Array | Uint8Array | Int8Array, t: number, d: number): typeof x {
  const out = new (x.constructor as Float32ArrayConstructor)(x.length) as typeof x;
  for (let m = 0; m < x.length / (t * d); m++) for (let i = 0; i < t; i++) for (let j = 0; j < d; j++) out[m * t * d + j * t + i] = x[m * t * d + i * d + j];
  return out;
}

// Queries: keys of other positions, scaled as the export scales Q. Weights: softmax of the fp32 scores.
const queries = Array.from({ length: decoderLayers }, (_, layer) => {
  const k = layerKV(layer, 'key');
  const q = new Float32Array(ROWS * H * D);
  for (let rh = 0; rh < ROWS * H; rh++) for (let j = 0; j < D; j++) q[rh * D + j] = k[(rh * T + ((rh * 37 + 11) % T)) * D + j] / 8;
  return q;
});
const weights = queries.map((q, layer) => {
  const k = layerKV(layer, 'key');
  const p = new Float32Array(ROWS * H * T);
  for (let rh = 0; rh < ROWS * H; rh++) {
    let max = -Infinity;
    for (let t = 0; t < T; t++) {
      let s = 0;
      for (let j = 0; j < D; j++) s += q[rh * D + j] * k[(rh * T + t) * D + j];
      p[rh * T + t] = s;
      max = Math.max(max, s);
    }
    let sum = 0;
    for (let t = 0; t < T; t++) sum += p[rh * T + t] = Math.exp(p[rh * T + t] - max);
    for (let t = 0; t < T; t++) p[rh * T + t] /= sum;
  }
  return p;
});

// Every layer's K/V in each layout, made once (the rounds time the runs only).
const layers = Array.from({ length: decoderLayers }, (_, layer) => {
  const key = layerKV(layer, 'key');
  const value = layerKV(layer, 'value');
  const keysPerPosition = quantizeRows(key, D, true);
  const valueT = transposeLast(value, T, D) as Float32Array;
  const valuesPerChannel = quantizeRows(valueT, T, true);
  return {
    key,
    value,
    valueT,
    key16: float32ToFloat16(key),
    value16: float32ToFloat16(value),
    keysT8: transposeLast(quantizeRows(key, D, false).q, T, D) as Int8Array,
    keysU8: keysPerPosition.q as Uint8Array,
    keyScales: keysPerPosition.scales,
    valuesT8: valuesPerChannel.q as Uint8Array,
    valueScales: valuesPerChannel.scales,
  };
});

/** Turns of `variants` over `rounds`, each on the next layer's K/V; median ms and largest error against the first. */
async function measure(rows: number, variants: readonly Variant[]): Promise<string[][]> {
  const reference: Float32Array[] = [];
  const errors = variants.map(() => 0);
  const times = variants.map((): number[] => []);
  let largest = 0;
  for (let round = 0; round < Number(values.rounds); round++) {
    const layer = round % decoderLayers;
    for (const [i, variant] of variants.entries()) {
      const feeds = variant.feeds(rows, layer);
      const started = performance.now();
      const out = await variant.session.run(feeds);
      times[i].push(performance.now() - started);
      if (round >= decoderLayers) continue;
      const result = out[variant.session.outputNames[0]].data as Float32Array;
      if (i === 0) {
        reference[layer] = result.slice();
        largest = Math.max(largest, ...result.map(Math.abs));
      }
      for (let j = 0; j < result.length; j++) errors[i] = Math.max(errors[i], Math.abs(result[j] - reference[layer][j]));
    }
  }
  const median = (xs: number[]): number => xs.sort((a, b) => a - b)[xs.length >> 1];
  const base = median(times[0]);
  return variants.map((v, i) => [`${rows}`, v.name, `${median(times[i]).toFixed(3)} ms`, `${(base / median(times[i])).toFixed(2)}x`, `${errors[i].toPrecision(2)} of ${largest.toPrecision(3)}`]);
}

const q8Scale = (prefix: string, input: string, axis: number, levels: number): NodeProto[] => [
  node('ReduceMax', [levels === 127 ? `${prefix}/abs` : input], [`${prefix}/max`], `${prefix}/max`, { axes: [axis], keepdims: 1 }),
  node('Max', [`${prefix}/max`, 'tiny'], [`${prefix}/kept`], `${prefix}/kept`),
  node('Div', [`${prefix}/kept`, levels === 127 ? 'c127' : 'c255'], [`${prefix}/scale`], `${prefix}/scale`),
  node('Div', [input, `${prefix}/scale`], [`${prefix}/scaled`], `${prefix}/scaled`),
  node('Round', [`${prefix}/scaled`], [`${prefix}/rounded`], `${prefix}/rounded`),
];
const constants = [scalar('c127', DT.FLOAT, 127), scalar('c255', DT.FLOAT, 255), scalar('tiny', DT.FLOAT, 1e-30), scalar('z128', DT.UINT8, 128)];

async function variantsAt(rows: number): Promise<{ scores: Variant[]; output: Variant[] }> {
  const q = valueInfo('q', DT.FLOAT, [rows, H, 1, D]);
  const p = valueInfo('p', DT.FLOAT, [rows, H, 1, T]);
  const scores = valueInfo('scores', DT.FLOAT, [rows, H, 1, T]);
  const out = valueInfo('out', DT.FLOAT, [rows, H, 1, D]);
  const perRow = <A extends Float32Array | Uint16Array | Uint8Array | Int8Array>(a: A, size: number): A => a.subarray(0, rows * size) as A;
  const qOf = (l: number) => ({ q: new ort.Tensor('float32', perRow(queries[l], H * D), [rows, H, 1, D]) });
  const pOf = (l: number) => ({ p: new ort.Tensor('float32', perRow(weights[l], H * T), [rows, H, 1, T]) });
  const keyScales = (l: number) => ({ ks: new ort.Tensor('float32', perRow(layers[l].keyScales, H * T), [rows, H, 1, T]) });
  const transposed = node('Transpose', ['k'], ['kt'], 'kt', { perm: [0, 1, 3, 2] });
  const scaledBy = (input: string, scales: readonly string[], output: string): NodeProto[] =>
    scales.map((s, i) => node('Mul', [i === 0 ? input : `${output}/${i}`, s], [i === scales.length - 1 ? output : `${output}/${i + 1}`], `${output}/mul${i}`));
  return {
    scores: [
      {
        name: 'fp32 (as exported)',
        session: await session([transposed, node('MatMul', ['q', 'kt'], ['scores'], 'mm')], [q, valueInfo('k', DT.FLOAT, [rows, H, T, D])], scores),
        feeds: (_, l) => ({ ...qOf(l), k: new ort.Tensor('float32', perRow(layers[l].key, H * T * D), [rows, H, T, D]) }),
      },
      {
        name: 'fp32, keys as A',
        session: await session(
          [node('Reshape', ['q', 'column'], ['qt'], 'qt'), node('MatMul', ['k', 'qt'], ['s'], 'mm'), node('Reshape', ['s', 'row'], ['scores'], 'row')],
          [q, valueInfo('k', DT.FLOAT, [rows, H, T, D])],
          scores,
          [shape('column', [rows, H, D, 1]), shape('row', [rows, H, 1, T])],
        ),
        feeds: (_, l) => ({ ...qOf(l), k: new ort.Tensor('float32', perRow(layers[l].key, H * T * D), [rows, H, T, D]) }),
      },
      {
        name: 'fp16',
        session: await session(
          [node('Cast', ['q'], ['q16'], 'q16', { to: DT.FLOAT16 }), transposed, node('MatMul', ['q16', 'kt'], ['s16'], 'mm'), node('Cast', ['s16'], ['scores'], 'back', { to: DT.FLOAT })],
          [q, valueInfo('k', DT.FLOAT16, [rows, H, T, D])],
          scores,
        ),
        feeds: (_, l) => ({ ...qOf(l), k: new ort.Tensor('float16', perRow(layers[l].key16, H * T * D), [rows, H, T, D]) }),
      },
      {
        name: 'int8, keys as B',
        session: await session(
          [
            node('DynamicQuantizeLinear', ['q'], ['qq', 'qs', 'qz'], 'dql'),
            node('MatMulInteger', ['qq', 'k', 'qz'], ['i32'], 'mmi'),
            node('Cast', ['i32'], ['f'], 'cast', { to: DT.FLOAT }),
            ...scaledBy('f', ['qs', 'ks'], 'scores'),
          ],
          [q, valueInfo('k', DT.INT8, [rows, H, D, T]), valueInfo('ks', DT.FLOAT, [rows, H, 1, T])],
          scores,
        ),
        feeds: (_, l) => ({ ...qOf(l), k: new ort.Tensor('int8', perRow(layers[l].keysT8, H * T * D), [rows, H, D, T]), ...keyScales(l) }),
      },
      {
        name: 'int8, keys as A',
        session: await session(
          [
            node('Abs', ['q'], ['q/abs'], 'q/abs'),
            ...q8Scale('q', 'q', 3, 127),
            node('Cast', ['q/rounded'], ['q8'], 'q8', { to: DT.INT8 }),
            node('Reshape', ['q8', 'column'], ['qt'], 'qt'),
            node('MatMulInteger', ['k', 'qt', 'z128'], ['i32'], 'mmi'),
            node('Cast', ['i32'], ['f'], 'cast', { to: DT.FLOAT }),
            node('Reshape', ['f', 'row'], ['fr'], 'fr'),
            ...scaledBy('fr', ['q/scale', 'ks'], 'scores'),
          ],
          [q, valueInfo('k', DT.UINT8, [rows, H, T, D]), valueInfo('ks', DT.FLOAT, [rows, H, 1, T])],
          scores,
          [...constants, shape('column', [rows, H, D, 1]), shape('row', [rows, H, 1, T])],
        ),
        feeds: (_, l) => ({ ...qOf(l), k: new ort.Tensor('uint8', perRow(layers[l].keysU8, H * T * D), [rows, H, T, D]), ...keyScales(l) }),
      },
    ],
    output: [
      {
        name: 'fp32 (as exported)',
        session: await session([node('MatMul', ['p', 'v'], ['out'], 'mm')], [p, valueInfo('v', DT.FLOAT, [rows, H, T, D])], out),
        feeds: (_, l) => ({ ...pOf(l), v: new ort.Tensor('float32', perRow(layers[l].value, H * T * D), [rows, H, T, D]) }),
      },
      {
        name: 'fp32, values as A',
        session: await session(
          [node('Reshape', ['p', 'column'], ['pt'], 'pt'), node('MatMul', ['v', 'pt'], ['o'], 'mm'), node('Reshape', ['o', 'row'], ['out'], 'row')],
          [p, valueInfo('v', DT.FLOAT, [rows, H, D, T])],
          out,
          [shape('column', [rows, H, T, 1]), shape('row', [rows, H, 1, D])],
        ),
        feeds: (_, l) => ({ ...pOf(l), v: new ort.Tensor('float32', perRow(layers[l].valueT, H * T * D), [rows, H, D, T]) }),
      },
      {
        name: 'fp16',
        session: await session(
          [node('Cast', ['p'], ['p16'], 'p16', { to: DT.FLOAT16 }), node('MatMul', ['p16', 'v'], ['o16'], 'mm'), node('Cast', ['o16'], ['out'], 'back', { to: DT.FLOAT })],
          [p, valueInfo('v', DT.FLOAT16, [rows, H, T, D])],
          out,
        ),
        feeds: (_, l) => ({ ...pOf(l), v: new ort.Tensor('float16', perRow(layers[l].value16, H * T * D), [rows, H, T, D]) }),
      },
      {
        name: 'int8, values as A',
        session: await session(
          [
            ...q8Scale('p', 'p', 3, 255),
            node('Cast', ['p/rounded'], ['p8'], 'p8', { to: DT.UINT8 }),
            node('Reshape', ['p8', 'column'], ['pt'], 'pt'),
            node('MatMulInteger', ['v', 'pt', 'z128'], ['i32'], 'mmi'),
            node('Cast', ['i32'], ['f'], 'cast', { to: DT.FLOAT }),
            node('Reshape', ['f', 'row'], ['fr'], 'fr'),
            ...scaledBy('fr', ['p/scale', 'vs'], 'out'),
          ],
          [p, valueInfo('v', DT.UINT8, [rows, H, D, T]), valueInfo('vs', DT.FLOAT, [rows, H, 1, D])],
          out,
          [...constants, shape('column', [rows, H, T, 1]), shape('row', [rows, H, 1, D])],
        ),
        feeds: (_, l) => ({ ...pOf(l), v: new ort.Tensor('uint8', perRow(layers[l].valuesT8, H * T * D), [rows, H, D, T]), vs: new ort.Tensor('float32', perRow(layers[l].valueScales, H * D), [rows, H, 1, D]) }),
      },
    ],
  };
}

console.log(`base (${modelDir}): one decoder layer's cross-attention, ${H} heads × ${T} positions × ${D}; ${values.threads} threads, ${values.rounds} rounds taking turns\n`);
const header = ['rows', 'K/V dtype', 'median', 'vs fp32', 'max |error| of max |value|'];
const tables = { scores: [] as string[][], output: [] as string[][] };
for (const rows of [1, ROWS]) {
  const { scores, output } = await variantsAt(rows);
  tables.scores.push(...(await measure(rows, scores)));
  tables.output.push(...(await measure(rows, output)));
}
console.log('scores Q·Kᵀ');
printTable(header, tables.scores);
console.log('\noutput P·V');
printTable(header, tables.output);
