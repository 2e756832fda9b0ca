/**
 * Transformer building blocks over `GraphBuilder`, shared by the Whisper, ViT (DINOv2) and wav2vec2 test models.
 *
 * Shapes in the docs: B batch, T query length, S key length, D model width, H heads, Dh = D / H.
 * Weights come from a `WeightBank`: each tensor is drawn from its own seeded stream keyed by name, so one model's
 * several files (e.g. Whisper's split decoders) share identical weights whatever order they are built in.
 */
import { GraphBuilder, MASK_MIN, Rng, attr, tensor, type TensorProto } from './onnx-builder.js';

/** Seeded, lazily drawn, cached weights. */
export class WeightBank {
  private readonly rng: Rng;
  private readonly tensors = new Map<string, TensorProto>();

  constructor(seed: number) {
    this.rng = new Rng(seed);
  }

  /** A float32 tensor of N(mean, std²) draws. */
  normal(name: string, dims: readonly number[], std: number, mean = 0): TensorProto {
    return this.make(name, dims, () => this.rng.fork(name).normal(count(dims), std, mean));
  }

  /** normal(), with the draws of some rows (first index) multiplied: `rows` maps a row to its factor. */
  normalScaledRows(name: string, dims: readonly number[], std: number, rows: ReadonlyMap<number, number>): TensorProto {
    return this.make(name, dims, () => {
      const values = this.rng.fork(name).normal(count(dims), std, 0);
      const width = count(dims.slice(1));
      for (const [row, factor] of rows) for (let i = row * width; i < (row + 1) * width; i++) values[i] *= factor;
      return values;
    });
  }

  /** The values of a tensor drawn earlier (for reference implementations in tests). */
  values(name: string): Float32Array {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`no weight named ${name} has been drawn`);
    const raw = t.rawData as Uint8Array;
    return new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  }

  /** A float32 tensor filled by `fill` (called once; e.g. sinusoidal positions). */
  custom(name: string, dims: readonly number[], fill: () => Float32Array): TensorProto {
    return this.make(name, dims, fill);
  }

  private make(name: string, dims: readonly number[], fill: () => Float32Array): TensorProto {
    let t = this.tensors.get(name);
    if (!t) {
      t = tensor(name, 'float32', dims, fill());
      this.tensors.set(name, t);
    }
    return t;
  }
}

function count(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Initial scales of the random weights. */
export interface InitScales {
  /** Std of projection matrices. @default 0.02 */
  weightStd: number;
  /** Std of biases. @default 0.02 */
  biasStd: number;
  /** Std of LayerNorm gains around 1 and of LayerNorm biases around 0. @default 0.1 */
  normStd: number;
  /** Divide `weightStd` by √(input width), so activations keep their scale at any width. @default false */
  fanIn?: boolean;
}

export const DEFAULT_INIT: Readonly<InitScales> = Object.freeze({ weightStd: 0.02, biasStd: 0.02, normStd: 0.1 });

/** Builds layers into one graph, drawing their weights from a bank. */
export class Layers {
  constructor(
    readonly g: GraphBuilder,
    readonly bank: WeightBank,
    readonly init: Readonly<InitScales> = DEFAULT_INIT,
  ) {}

  /** Registers a bank tensor as an initializer of the graph (or its outer scope) and returns its name. */
  param(t: TensorProto): string {
    return this.g.addInitializer(t);
  }

  /** `x @ W + b` with W [inDim, outDim] (stored transposed, as torch exports a Linear) and optional bias. */
  linear(x: string, name: string, inDim: number, outDim: number, bias = true): string {
    const std = this.init.fanIn ? this.init.weightStd / Math.sqrt(inDim) : this.init.weightStd;
    const w = this.param(this.bank.normal(`${name}.weight`, [inDim, outDim], std));
    const y = this.g.op('MatMul', [x, w]);
    if (!bias) return y;
    const b = this.param(this.bank.normal(`${name}.bias`, [outDim], this.init.biasStd));
    return this.g.op('Add', [b, y]);
  }

  /** LayerNormalization over the last axis, gain ~ 1 and bias ~ 0 (random, so tests see them). */
  layerNorm(x: string, name: string, dim: number, epsilon = 1e-5): string {
    const scale = this.param(this.bank.normal(`${name}.weight`, [dim], this.init.normStd, 1));
    const bias = this.param(this.bank.normal(`${name}.bias`, [dim], this.init.normStd));
    return this.g.op('LayerNormalization', [x, scale, bias], { axis: attr.int(-1), epsilon: attr.float(epsilon) });
  }

  /** Exact (erf) GELU: x · ½ · (1 + erf(x / √2)), the way torch exports `nn.GELU()`. */
  gelu(x: string): string {
    return gelu(this.g, x);
  }

  /** Pre-LN feed-forward block: fc1 → GELU → fc2 (no residual). */
  mlp(x: string, name: string, dim: number, hidden: number): string {
    return this.linear(this.gelu(this.linear(x, `${name}.fc1`, dim, hidden)), `${name}.fc2`, hidden, dim);
  }

  /**
   * Multi-head attention in the layout of HF's Whisper/ViT/wav2vec2 attention: q scaled by Dh^-½ after its bias;
   * k without bias when `keyBias` is false (Whisper); v and out with bias.
   *
   * - `query` [B, T, D]; `keyValue` [B, S, D] (defaults to `query`: self-attention).
   * - `pastKey`/`pastValue` [B, H, P, Dh] are prepended to the new keys/values (a KV cache).
   * - `cachedKey`/`cachedValue` [B, H, S, Dh] replace the key/value projections altogether (cross-attention
   *   reusing the step-1 encoder keys).
   * - `mask` is added to the scores, [T, S] or broadcastable to [B, H, T, S].
   *
   * Returns the output [B, T, D], the keys/values used [B, H, S, Dh] (the presents) and the probabilities
   * [B, H, T, S].
   */
  attention(opts: {
    name: string;
    query: string;
    keyValue?: string;
    dim: number;
    heads: number;
    keyBias?: boolean;
    pastKey?: string;
    pastValue?: string;
    cachedKey?: string;
    cachedValue?: string;
    mask?: string;
    keyOutput?: string;
    valueOutput?: string;
    probsOutput?: string;
  }): { output: string; key: string; value: string; probs: string } {
    const { name, dim, heads } = opts;
    const g = this.g;
    const headDim = dim / heads;
    if (!Number.isInteger(headDim)) throw new Error(`attention ${name}: width ${dim} is not divisible by ${heads} heads`);
    const scaled = g.op('Mul', [this.linear(opts.query, `${name}.q_proj`, dim, dim), g.float(headDim ** -0.5)]);
    const q = splitHeads(g, scaled, heads, headDim);
    let key: string;
    let value: string;
    if (opts.cachedKey && opts.cachedValue) {
      key = opts.cachedKey;
      value = opts.cachedValue;
    } else {
      const source = opts.keyValue ?? opts.query;
      const kNew = splitHeads(g, this.linear(source, `${name}.k_proj`, dim, dim, opts.keyBias ?? true), heads, headDim);
      const vNew = splitHeads(g, this.linear(source, `${name}.v_proj`, dim, dim), heads, headDim);
      if (opts.pastKey && opts.pastValue) {
        key = g.op('Concat', [opts.pastKey, kNew], { axis: attr.int(2) }, opts.keyOutput);
        value = g.op('Concat', [opts.pastValue, vNew], { axis: attr.int(2) }, opts.valueOutput);
      } else {
        key = opts.keyOutput ? g.op('Identity', [kNew], {}, opts.keyOutput) : kNew;
        value = opts.valueOutput ? g.op('Identity', [vNew], {}, opts.valueOutput) : vNew;
      }
    }
    let scores = g.op('MatMul', [q, g.op('Transpose', [key], { perm: attr.ints([0, 1, 3, 2]) })]);
    if (opts.mask) scores = g.op('Add', [scores, opts.mask]);
    const probs = g.op('Softmax', [scores], { axis: attr.int(-1) }, opts.probsOutput);
    const context = mergeHeads(g, g.op('MatMul', [probs, value]), dim);
    return { output: this.linear(context, `${name}.out_proj`, dim, dim), key, value, probs };
  }
}

/** Exact (erf) GELU. */
export function gelu(g: GraphBuilder, x: string): string {
  const erf = g.op('Erf', [g.op('Div', [x, g.float(Math.SQRT2)])]);
  return g.op('Mul', [g.op('Mul', [x, g.op('Add', [erf, g.float(1)])]), g.float(0.5)]);
}

/** [B, T, H·Dh] → [B, H, T, Dh]. */
export function splitHeads(g: GraphBuilder, x: string, heads: number, headDim: number): string {
  const r = g.op('Reshape', [x, g.int64s([0, 0, heads, headDim])]);
  return g.op('Transpose', [r], { perm: attr.ints([0, 2, 1, 3]) });
}

/** [B, H, T, Dh] → [B, T, H·Dh]. */
export function mergeHeads(g: GraphBuilder, x: string, dim: number): string {
  const t = g.op('Transpose', [x], { perm: attr.ints([0, 2, 1, 3]) });
  return g.op('Reshape', [t, g.int64s([0, 0, dim])]);
}

/** Size of axis `axis` of `x` as an int64 scalar. */
export function dimOf(g: GraphBuilder, x: string, axis: number): string {
  return g.op('Gather', [g.op('Shape', [x]), g.int64(axis)], { axis: attr.int(0) });
}

/** An int64 scalar as a 1-element 1-D tensor (for Slice starts/ends, Concat of shapes). */
export function toVector(g: GraphBuilder, scalar: string): string {
  return g.op('Unsqueeze', [scalar, g.int64s([0])]);
}

/**
 * The additive causal mask [T, P + T] for T new positions after P cached ones: query i (absolute position P + i)
 * sees keys 0 … P + i. `pastLength` and `length` are int64 scalars.
 */
export function causalMask(g: GraphBuilder, pastLength: string, length: string): string {
  const total = g.op('Add', [pastLength, length]);
  const keys = g.op('Unsqueeze', [g.op('Range', [g.int64(0), total, g.int64(1)]), g.int64s([0])]);
  const queries = g.op('Unsqueeze', [g.op('Range', [pastLength, total, g.int64(1)]), g.int64s([1])]);
  return g.op('Where', [g.op('Greater', [keys, queries]), g.float(MASK_MIN), g.float(0)]);
}

/** Rows `start` … `start + length - 1` of a [N, D] table (e.g. learned positions); scalars are int64. */
export function sliceRows(g: GraphBuilder, table: string, start: string, length: string): string {
  const end = g.op('Add', [start, length]);
  return g.op('Slice', [table, toVector(g, start), toVector(g, end), g.int64s([0])]);
}
