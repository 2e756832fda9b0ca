/** What the rewriters of one model share: the graph index, fresh names, the tensors added so far, the counts. */
import { UniqueNames, type GraphIndex, type GraphProto, type TensorProto } from '../runtime/onnx/index.js';
import type { RewriteSettings, RewriteStats } from './rewrite.js';

export class RewriteState {
  readonly stats: RewriteStats = { matmuls: 0, activationMatMuls: 0, tiedHeads: 0, embeddings: 0 };
  /** Float values a rewriter stopped reading: removeUnused drops the ones nobody reads any more. */
  readonly touched = new Set<string>();
  private readonly names: UniqueNames;
  /** Names of the tensors added for each key (see `once`). */
  private readonly added = new Map<string, string[]>();

  /** `quantizeActivations`: whether MatMuls of two activations are quantized in this model (see rewrite-matmul.ts). */
  constructor(
    readonly index: GraphIndex,
    readonly settings: RewriteSettings,
    readonly quantizeActivations: boolean,
  ) {
    this.names = new UniqueNames(index.definedNames());
  }

  /** A value name not used anywhere in the model yet: `base`, or `base_1`, `base_2`, ... */
  unique(base: string): string {
    return this.names.next(base);
  }

  /**
   * Appends `make()`'s tensors to `graph`'s initializers the first time `key` is asked for and returns their
   * names; later calls return the same names. Keyed by weight and layout, so both If branches of the merged
   * decoder share one quantized copy of an outer weight.
   */
  once(key: string, graph: GraphProto, make: () => TensorProto[]): string[] {
    let names = this.added.get(key);
    if (!names) {
      const tensors = make();
      graph.initializer = [...(graph.initializer ?? []), ...tensors];
      names = tensors.map((t) => t.name ?? '');
      this.added.set(key, names);
    }
    return names;
  }
}
