/**
 * Load-time rewrites of the Whisper decoder:
 * - the cached step keeps its self-attention cache in the runner's buffers (runtime/kv-buffers.ts): the rewrite of
 *   runtime/onnx/cache-outside.ts on the self-attention past inputs (`past_key_values.{i}.decoder.{key,value}`),
 *   exact. The cross-attention K/V are fed unchanged;
 * - then its self-attention reads those buffers in place instead of a copy of the live cache extended by the new
 *   position (runtime/onnx/capacity-attention.ts): the same values up to float rounding, so not under `exact`;
 * - a quantized decoder's step computes its cross-attention scores over int8 keys (cross-keys.ts): not exact, and
 *   not for float decoders;
 * - the first pass (the merged decoder's no-cache branch, or `decoder_model`) computes logits from position
 *   `logits_from` on (a new int64 [1] input): a Slice before the LM head. The runner reads only the last position
 *   and the SOT position, where the head ran at every prompt position (up to 223 with previous text: 223 × 51,865
 *   logits, 46 MB copied out per window) for the next window. The head is a matrix product per position, so the
 *   positions kept get the same logits. Not for a quantized head (its input is quantized per tensor, over all
 *   positions): that graph keeps every position.
 */
import type { InferenceSession } from 'onnxruntime-node';
import type { RuntimeOptions } from '../../runtime/index.js';
import { attendOverCapacity } from '../../runtime/onnx/capacity-attention.js';
import { keepCacheOutside } from '../../runtime/onnx/cache-outside.js';
import { intsConstant, nodeProducers, onnx, type NodeProto } from '../../runtime/onnx/index.js';
import { loadWithSpeedUp } from '../../runtime/onnx/rewritten-session.js';
import type { GraphView } from '../../runtime/onnx/stream-rewrite.js';
import { int8CrossKeys } from './cross-keys.js';

export { CACHE_LENGTH } from '../../runtime/onnx/cache-outside.js';

/** The input of a rewritten first pass: the first position whose logits it computes. */
export const LOGITS_FROM = 'logits_from';

const SELF_PAST = /^past_key_values\.\d+\.decoder\.(key|value)$/;
const DT = onnx.TensorProto.DataType;

/** The decoder's nodes with its self-attention cache kept by the runner; undefined when the graph does not match. */
export function keepSelfCacheOutside(graph: GraphView, nodes: readonly NodeProto[] = graph.nodes): NodeProto[] | undefined {
  return keepCacheOutside(graph, (name) => SELF_PAST.test(name), nodes);
}

/** `nodes` (one graph's) with a Slice from `logits_from` before a float LM head; undefined when the head is not a float MatMul. */
function sliceHead(nodes: readonly NodeProto[]): NodeProto[] | undefined {
  const made = nodeProducers(nodes);
  let head = made.get('logits');
  while (head?.opType === 'Identity' || head?.opType === 'Cast') head = made.get(head.input?.[0] ?? '');
  if (!head || !['MatMul', 'FusedMatMul'].includes(head.opType ?? '')) return undefined;
  const kept = `${LOGITS_FROM}/hidden`;
  const slice = onnx.NodeProto.create({ opType: 'Slice', name: kept, input: [head.input?.[0] ?? '', LOGITS_FROM, `${LOGITS_FROM}/end`, `${LOGITS_FROM}/axis`], output: [kept] });
  return nodes.flatMap((n) => (n === head ? [slice, onnx.NodeProto.create({ ...n, input: [kept, ...(n.input ?? []).slice(1)] })] : [n]));
}

/**
 * The first pass's nodes with its logits computed from `logits_from` on: the main graph of a decoder without
 * self-attention past inputs (`decoder_model`), or the no-cache branch of the merged decoder's If.
 */
export function firstPassLogitsFrom(graph: GraphView, nodes: readonly NodeProto[] = graph.nodes): NodeProto[] | undefined {
  if (graph.inputs.includes(LOGITS_FROM)) return undefined;
  const hasPast = graph.inputs.some((name) => SELF_PAST.test(name));
  let rewritten: NodeProto[] | undefined;
  if (!hasPast) rewritten = sliceHead(nodes);
  else {
    const branch = nodes.find((n) => n.opType === 'If' && n.input?.[0] === 'use_cache_branch');
    const noCache = branch?.attribute?.find((a) => a.name === 'else_branch');
    const sliced = noCache?.g && sliceHead(noCache.g.node ?? []);
    if (!branch || !noCache || !sliced) return undefined;
    const attribute = branch.attribute?.map((a) => (a === noCache ? onnx.AttributeProto.create({ ...a, g: { ...a.g, node: sliced } }) : a));
    rewritten = nodes.map((n) => (n === branch ? onnx.NodeProto.create({ ...n, attribute }) : n));
  }
  if (!rewritten) return undefined;
  graph.addInput({ name: LOGITS_FROM, type: { tensorType: { elemType: DT.INT64, shape: { dim: [{ dimValue: 1 }] } } } });
  return [intsConstant(`${LOGITS_FROM}/end`, [2 ** 31 - 1]), intsConstant(`${LOGITS_FROM}/axis`, [1]), ...rewritten];
}

/**
 * The rewrites, each where its pattern is found; undefined when none is. `exact`: only those that compute every
 * value the runner reads as the export does, bit for bit. `int8Keys: false` leaves a quantized step's keys float32
 * (bench/whisper-step-ab.ts measures what they buy).
 */
export function rewriteWhisperDecoder(graph: GraphView, exact = false, int8Keys = !exact): NodeProto[] | undefined {
  const outside = keepSelfCacheOutside(graph);
  const cached = outside && !exact ? (attendOverCapacity(graph, outside) ?? outside) : outside;
  const keys = int8Keys ? (int8CrossKeys(graph, cached ?? graph.nodes) ?? cached) : cached;
  const sliced = firstPassLogitsFrom(graph, keys ?? graph.nodes);
  return sliced ?? keys;
}

/**
 * A decoder session (the merged decoder, `decoder_model` or `decoder_with_past_model`) with its rewrites
 * (`rewrite`; `'exact'`: the bit-exact ones only), or the file as exported: also when no pattern matches or ORT
 * refuses the copy, since the rewrites are only speed-ups. The runner tells them apart by the `cache_length` and
 * `logits_from` inputs.
 */
export function loadWhisperDecoder(path: string, rewrite: boolean | 'exact', runtime?: RuntimeOptions): Promise<InferenceSession> {
  const exact = rewrite === 'exact';
  return loadWithSpeedUp(path, rewrite !== false, exact ? 'whisper-decoder-exact' : 'whisper-decoder', (graph) => rewriteWhisperDecoder(graph, exact), runtime);
}
