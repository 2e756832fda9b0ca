/**
 * Lookups by value name over a model's graphs, for code that rewrites them: who produces a value, how many read
 * it, which initializer holds it. Built once before any edit and never updated, so rewriters see the original
 * graph while they replace its nodes.
 */
import { graphsOf, type GraphProto, type NodeProto, type TensorProto } from './proto.js';

/** An initializer and the graph that holds it (a subgraph may read an initializer of an outer graph). */
export interface Owned {
  readonly tensor: TensorProto;
  readonly graph: GraphProto;
}

export class GraphIndex {
  /** The main graph, then every subgraph (If/Loop/Scan bodies), outermost first. */
  readonly graphs: readonly GraphProto[];
  /** Initializers of every graph; a name defined in several graphs maps to the last one. */
  readonly initializers: ReadonlyMap<string, Owned>;
  /** The node that computes each value, in any graph. */
  readonly producers: ReadonlyMap<string, NodeProto>;
  /** How many node inputs and graph outputs read each value, over all graphs. */
  readonly consumers: ReadonlyMap<string, number>;

  constructor(main: GraphProto) {
    this.graphs = [...graphsOf(main)];
    const initializers = new Map<string, Owned>();
    const producers = new Map<string, NodeProto>();
    const consumers = new Map<string, number>();
    const read = (name: string): void => {
      consumers.set(name, (consumers.get(name) ?? 0) + 1);
    };
    for (const graph of this.graphs) {
      for (const tensor of graph.initializer ?? []) initializers.set(tensor.name ?? '', { tensor, graph });
      for (const n of graph.node ?? []) {
        for (const o of n.output ?? []) producers.set(o, n);
        for (const i of n.input ?? []) read(i);
      }
      for (const o of graph.output ?? []) read(o.name ?? '');
    }
    [this.initializers, this.producers, this.consumers] = [initializers, producers, consumers];
  }

  /** A value fixed at load time: an initializer (of any graph in scope) or a Constant node's output. */
  isConstant(name: string): boolean {
    return this.initializers.has(name) || this.producers.get(name)?.opType === 'Constant';
  }

  /** The names the graphs define: initializers and node outputs. */
  definedNames(): Set<string> {
    return new Set([...this.initializers.keys(), ...this.producers.keys()]);
  }
}

/** Fresh value names: `base`, or else `base_1`, `base_2`, ..., skipping every name already taken or handed out. */
export class UniqueNames {
  private readonly taken: Set<string>;

  constructor(taken: Iterable<string>) {
    this.taken = new Set(taken);
  }

  next(base: string): string {
    let name = base;
    for (let i = 1; this.taken.has(name); i++) name = `${base}_${i}`;
    this.taken.add(name);
    return name;
  }
}

/** Drops nodes whose outputs nothing reads (what a rewrite left behind); none when a node has subgraphs. */
export function pruneUnused(nodes: NodeProto[], outputs: readonly string[]): NodeProto[] {
  if (nodes.some((n) => n.attribute?.some((a) => a.g || (a.graphs ?? []).length > 0))) return nodes;
  let current = nodes;
  for (;;) {
    const read = new Set([...current.flatMap((n) => n.input ?? []), ...outputs]);
    const kept = current.filter((n) => (n.output ?? []).some((o) => read.has(o)));
    if (kept.length === current.length) return current;
    current = kept;
  }
}

/** The node that computes each value, over a node list (one graph's nodes, as a rewrite holds them). */
export function nodeProducers(nodes: readonly NodeProto[]): Map<string, NodeProto> {
  const map = new Map<string, NodeProto>();
  for (const n of nodes) for (const o of n.output ?? []) map.set(o, n);
  return map;
}

/** The nodes that read each value, over a node list, in order. */
export function nodeReaders(nodes: readonly NodeProto[]): Map<string, NodeProto[]> {
  const map = new Map<string, NodeProto[]>();
  for (const n of nodes) {
    for (const i of n.input ?? []) {
      const readers = map.get(i);
      if (readers) readers.push(n);
      else map.set(i, [n]);
    }
  }
  return map;
}
