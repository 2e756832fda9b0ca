/**
 * The Whisper decoder's cached step with its self-attention cache kept by the runner (runtime/kv-buffers.ts): the
 * load-time rewrite of runtime/onnx/cache-outside.ts on the self-attention past inputs
 * (`past_key_values.{i}.decoder.{key,value}`). The cross-attention K/V are fed unchanged. The first pass (the
 * merged decoder's other branch, or `decoder_model`) still returns the whole prompt's KV.
 */
import type { InferenceSession } from 'onnxruntime-node';
import type { RuntimeOptions } from '../../runtime/index.js';
import { keepCacheOutside } from '../../runtime/onnx/cache-outside.js';
import type { NodeProto } from '../../runtime/onnx/index.js';
import { loadWithSpeedUp } from '../../runtime/onnx/rewritten-session.js';
import type { GraphView } from '../../runtime/onnx/stream-rewrite.js';

export { CACHE_LENGTH } from '../../runtime/onnx/cache-outside.js';

const SELF_PAST = /^past_key_values\.\d+\.decoder\.(key|value)$/;

/** The decoder's nodes with its self-attention cache kept by the runner; undefined when the graph does not match. */
export function keepSelfCacheOutside(graph: GraphView): NodeProto[] | undefined {
  return keepCacheOutside(graph, (name) => SELF_PAST.test(name));
}

/**
 * A decoder session (the merged decoder, or `decoder_with_past_model`) with its self-attention cache kept
 * outside (`rewrite`), or the file as exported: also when the graph does not match or ORT refuses the copy, since
 * the rewrite is only a speed-up. The runner tells the two apart by the `cache_length` input.
 */
export function loadWhisperDecoder(path: string, rewrite: boolean, runtime?: RuntimeOptions): Promise<InferenceSession> {
  return loadWithSpeedUp(path, rewrite, 'self-cache-outside', keepSelfCacheOutside, runtime);
}
