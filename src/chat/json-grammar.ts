/**
 * Constrained decoding for JSON output: a JSON schema compiles to a byte-level pushdown automaton, and at each
 * step the tokens whose bytes the automaton accepts from its state are the only ones the sampler may pick (a walk
 * over a trie of the vocabulary's token bytes, so a rejected prefix prunes every token that starts with it). The
 * end-of-sequence token is allowed only once the value is complete. Whatever the weights, the output parses and
 * validates against the schema.
 *
 * The output is compact JSON (no whitespace). Every string, array and free-form object has a bound (the schema's
 * own maxLength/maxItems, else `JsonLimits`) so a generation always ends; object properties come in the schema's
 * order, all of them. Keywords the automaton cannot guarantee (pattern, format, numeric bounds other than
 * `minimum: 0`, recursive $ref, unions whose branches start alike) are refused up front rather than broken later.
 */
import { MoxingError } from '../errors.js';

export interface JsonLimits {
  /** Characters of a string without maxLength. @default 512 */
  maxStringLength: number;
  /** Items of an array without maxItems. @default 64 */
  maxItems: number;
  /** Keys of a free-form object. @default 32 */
  maxProperties: number;
  /** Nesting of free-form values (json_object, `{}` schemas). @default 6 */
  maxDepth: number;
}

export const DEFAULT_JSON_LIMITS: Readonly<JsonLimits> = Object.freeze({ maxStringLength: 512, maxItems: 64, maxProperties: 32, maxDepth: 6 });

type Node =
  | { id: number; kind: 'any'; depth: number }
  | { id: number; kind: 'string'; min: number; max: number }
  | { id: number; kind: 'number'; integer: boolean; negative: boolean }
  | { id: number; kind: 'literals'; values: Uint8Array[] }
  | { id: number; kind: 'seq'; parts: Array<Uint8Array | Node> }
  | { id: number; kind: 'object'; depth: number }
  | { id: number; kind: 'array'; items: Node; min: number; max: number }
  | { id: number; kind: 'union'; options: Node[] };

type Frame =
  | { t: 'value'; node: Node }
  | { t: 'str'; min: number; max: number; count: number; esc: boolean; cont: number; lo: number; hi: number }
  | { t: 'num'; integer: boolean; negative: boolean; phase: 'start' | 'minus' | 'zero' | 'int' | 'dot' | 'frac'; digits: number }
  | { t: 'lit'; values: Uint8Array[]; pos: number }
  | { t: 'seq'; node: Node & { kind: 'seq' }; idx: number; pos: number }
  | { t: 'arr'; node: Node & { kind: 'array' }; count: number; phase: 'open' | 'after' | 'item' }
  | { t: 'obj'; depth: number; count: number; phase: 'open' | 'colon' | 'value' | 'after' | 'key' };

type Step = { k: 'ok'; frame: Frame | null; push?: Frame } | { k: 'redo'; frame: Frame } | { k: 'delegate'; frame: Frame; push: Frame } | { k: 'pass' } | null;

const MAX_INT_DIGITS = 15;
const MAX_FRAC_DIGITS = 8;
const QUOTE = 0x22;
const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);

type Schema = Record<string, unknown>;

/** A compiled schema: the start state and the shared node table of its automaton. */
export class JsonGrammar {
  private nextId = 0;
  readonly root: Node;

  private constructor(
    /** The bounds that keep every generation finite. */
    readonly limits: JsonLimits,
    build: (g: JsonGrammar) => Node,
  ) {
    this.root = build(this);
  }

  /** The grammar of values valid under `schema` (`{}` or `true`: any JSON value). */
  static fromSchema(schema: unknown, limits: Partial<JsonLimits> = {}): JsonGrammar {
    const full = { ...DEFAULT_JSON_LIMITS, ...limits };
    return new JsonGrammar(full, (g) => g.compile(schema, full, schema as Schema, 0, 0));
  }

  /** json_object: any object. */
  static anyObject(limits: Partial<JsonLimits> = {}): JsonGrammar {
    const full = { ...DEFAULT_JSON_LIMITS, ...limits };
    return new JsonGrammar(full, (g) => g.node({ kind: 'object', depth: 0 }));
  }

  /** Literal text around schema-valid JSON values (e.g. a tool-call wrapper). */
  static sequence(parts: ReadonlyArray<string | { schema: unknown }>, limits: Partial<JsonLimits> = {}): JsonGrammar {
    const full = { ...DEFAULT_JSON_LIMITS, ...limits };
    return new JsonGrammar(full, (g) => ({
      id: g.nextId++,
      kind: 'seq',
      parts: parts.map((p) => (typeof p === 'string' ? bytes(p) : g.compile(p.schema, full, p.schema as Schema, 0, 0))),
    }));
  }

  private node<T extends Omit<Node, 'id'>>(partial: T): Node {
    return { ...partial, id: this.nextId++ } as unknown as Node;
  }

  private compile(schemaValue: unknown, limits: JsonLimits, rootSchema: Schema, depth: number, refDepth: number): Node {
    if (schemaValue === true || schemaValue === undefined) return this.node({ kind: 'any', depth });
    if (schemaValue === null || typeof schemaValue !== 'object' || Array.isArray(schemaValue)) throw bad('a schema must be an object');
    const schema = schemaValue as Schema;
    const allowed = new Set(['type', 'properties', 'required', 'additionalProperties', 'items', 'enum', 'const', 'minLength', 'maxLength', 'minItems', 'maxItems', 'anyOf', 'oneOf', '$ref', '$defs', 'definitions', 'title', 'description', 'default', 'examples', '$schema', '$id', 'minimum', 'strict']);
    const unknown = Object.keys(schema).filter((k) => !allowed.has(k));
    if (unknown.length > 0) throw bad(`the schema keyword${unknown.length > 1 ? 's' : ''} ${unknown.slice(0, 5).join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not supported by constrained decoding`);
    if (typeof schema.$ref === 'string') {
      if (refDepth > 16) throw bad('recursive $ref schemas are not supported');
      return this.compile(resolveRef(rootSchema, schema.$ref), limits, rootSchema, depth, refDepth + 1);
    }
    if (Array.isArray(schema.enum)) return this.node({ kind: 'literals', values: schema.enum.map((v) => bytes(JSON.stringify(v))) });
    if ('const' in schema) return this.node({ kind: 'literals', values: [bytes(JSON.stringify(schema.const))] });
    const branches = (schema.anyOf ?? schema.oneOf) as unknown[] | undefined;
    if (Array.isArray(branches)) return this.union(branches.map((b) => this.compile(b, limits, rootSchema, depth, refDepth)));
    const type = schema.type;
    if (Array.isArray(type)) return this.union(type.map((t) => this.compile({ ...schema, type: t }, limits, rootSchema, depth, refDepth)));
    if ('minimum' in schema && !(schema.minimum === 0 && (type === 'integer' || type === 'number'))) throw bad('numeric bounds other than minimum: 0 are not supported by constrained decoding');
    switch (type) {
      case undefined:
        return this.node({ kind: 'any', depth });
      case 'string': {
        const max = typeof schema.maxLength === 'number' ? schema.maxLength : limits.maxStringLength;
        const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
        if (min > max) throw bad('minLength is above maxLength');
        return this.node({ kind: 'string', min, max });
      }
      case 'number':
      case 'integer':
        return this.node({ kind: 'number', integer: type === 'integer', negative: schema.minimum !== 0 });
      case 'boolean':
        return this.node({ kind: 'literals', values: [bytes('true'), bytes('false')] });
      case 'null':
        return this.node({ kind: 'literals', values: [bytes('null')] });
      case 'array': {
        const items = this.compile(schema.items ?? true, limits, rootSchema, depth + 1, refDepth);
        const max = typeof schema.maxItems === 'number' ? schema.maxItems : limits.maxItems;
        const min = typeof schema.minItems === 'number' ? schema.minItems : 0;
        if (min > max) throw bad('minItems is above maxItems');
        return this.node({ kind: 'array', items, min, max });
      }
      case 'object': {
        const properties = schema.properties as Record<string, unknown> | undefined;
        if (!properties || Object.keys(properties).length === 0) {
          return schema.additionalProperties === false ? this.node({ kind: 'literals', values: [bytes('{}')] }) : this.node({ kind: 'object', depth });
        }
        const parts: Array<Uint8Array | Node> = [];
        Object.entries(properties).forEach(([key, sub], i) => {
          parts.push(bytes(`${i === 0 ? '{' : ','}${JSON.stringify(key)}:`));
          parts.push(this.compile(sub, limits, rootSchema, depth + 1, refDepth));
        });
        parts.push(bytes('}'));
        return { id: this.nextId++, kind: 'seq', parts };
      }
      default:
        throw bad(`unknown schema type ${JSON.stringify(type)}`);
    }
  }

  private union(options: Node[]): Node {
    const starts = options.map((o) => firstBytes(o));
    for (let i = 0; i < options.length; i++) {
      for (let j = i + 1; j < options.length; j++) {
        if ([...starts[i]].some((b) => starts[j].has(b))) throw bad('anyOf/oneOf/type unions whose branches can start with the same character are not supported by constrained decoding');
      }
    }
    return this.node({ kind: 'union', options });
  }

  /** The automaton's start state. */
  start(): State {
    return [{ t: 'value', node: this.root }];
  }
}

/** A state of the automaton: its frame stack, bottom first. Immutable: steps return new arrays. */
export type State = readonly Frame[];

function bad(message: string): MoxingError {
  return new MoxingError('BAD_ARGUMENT', `response schema: ${message}`);
}

function resolveRef(root: Schema, ref: string): unknown {
  const match = /^#\/(\$defs|definitions)\/([^/]+)$/.exec(ref);
  const target = match ? (root[match[1]] as Record<string, unknown> | undefined)?.[match[2]] : undefined;
  if (target === undefined) throw bad(`$ref ${JSON.stringify(ref)} does not name a local #/$defs entry`);
  return target;
}

const DIGITS = [0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39];

/** Bytes a value of `node` can start with. */
function firstBytes(node: Node): Set<number> {
  switch (node.kind) {
    case 'any':
      return new Set([QUOTE, 0x2d, ...DIGITS, 0x74, 0x66, 0x6e, 0x7b, 0x5b]);
    case 'string':
      return new Set([QUOTE]);
    case 'number':
      return new Set(node.negative ? [0x2d, ...DIGITS] : DIGITS);
    case 'literals':
      return new Set(node.values.map((v) => v[0]));
    case 'seq':
      return node.parts[0] instanceof Uint8Array ? new Set([node.parts[0][0]]) : firstBytes(node.parts[0]);
    case 'object':
      return new Set([0x7b]);
    case 'array':
      return new Set([0x5b]);
    case 'union':
      return new Set(node.options.flatMap((o) => [...firstBytes(o)]));
  }
}

function stringFrame(min: number, max: number): Frame {
  return { t: 'str', min, max, count: 0, esc: false, cont: 0, lo: 0, hi: 0 };
}

function stepValue(node: Node, byte: number, limits: JsonLimits): Step {
  switch (node.kind) {
    case 'string':
      return byte === QUOTE ? { k: 'ok', frame: stringFrame(node.min, node.max) } : null;
    case 'number':
      return { k: 'redo', frame: { t: 'num', integer: node.integer, negative: node.negative, phase: 'start', digits: 0 } };
    case 'literals':
      return { k: 'redo', frame: { t: 'lit', values: node.values, pos: 0 } };
    case 'seq':
      return { k: 'redo', frame: { t: 'seq', node, idx: 0, pos: 0 } };
    case 'object':
      return byte === 0x7b ? { k: 'ok', frame: { t: 'obj', depth: node.depth, count: 0, phase: 'open' } } : null;
    case 'array':
      return byte === 0x5b ? { k: 'ok', frame: { t: 'arr', node, count: 0, phase: 'open' } } : null;
    case 'union': {
      const option = node.options.find((o) => firstBytes(o).has(byte));
      return option ? { k: 'redo', frame: { t: 'value', node: option } } : null;
    }
    case 'any': {
      const nested = node.depth < limits.maxDepth - 1;
      if (byte === QUOTE) return { k: 'ok', frame: stringFrame(0, limits.maxStringLength) };
      if (byte === 0x2d || (byte >= 0x30 && byte <= 0x39)) return { k: 'redo', frame: { t: 'num', integer: false, negative: true, phase: 'start', digits: 0 } };
      if (byte === 0x74 || byte === 0x66 || byte === 0x6e) return { k: 'redo', frame: { t: 'lit', values: [bytes('true'), bytes('false'), bytes('null')], pos: 0 } };
      if (byte === 0x7b && nested) return { k: 'ok', frame: { t: 'obj', depth: node.depth + 1, count: 0, phase: 'open' } };
      if (byte === 0x5b && nested) {
        const items: Node = { id: -1 - (node.depth + 1), kind: 'any', depth: node.depth + 1 };
        return { k: 'ok', frame: { t: 'arr', node: { id: -100 - node.depth, kind: 'array', items, min: 0, max: limits.maxItems }, count: 0, phase: 'open' } };
      }
      return null;
    }
  }
}

function stepFrame(frame: Frame, byte: number, limits: JsonLimits): Step {
  switch (frame.t) {
    case 'value':
      return stepValue(frame.node, byte, limits);
    case 'str': {
      if (frame.cont > 0) {
        if (byte < frame.lo || byte > frame.hi) return null;
        return { k: 'ok', frame: { ...frame, cont: frame.cont - 1, lo: 0x80, hi: 0xbf } };
      }
      if (frame.esc) return '"\\/bfnrt'.includes(String.fromCharCode(byte)) ? { k: 'ok', frame: { ...frame, esc: false, count: frame.count + 1 } } : null;
      if (byte === QUOTE) return frame.count >= frame.min ? { k: 'ok', frame: null } : null;
      if (frame.count >= frame.max || byte < 0x20) return null;
      if (byte === 0x5c) return { k: 'ok', frame: { ...frame, esc: true } };
      if (byte < 0x80) return { k: 'ok', frame: { ...frame, count: frame.count + 1 } };
      // UTF-8 lead bytes, with the first continuation's range that rules out overlong forms and surrogates.
      const next = (cont: number, lo: number, hi: number): Step => ({ k: 'ok', frame: { ...frame, count: frame.count + 1, cont, lo, hi } });
      if (byte >= 0xc2 && byte <= 0xdf) return next(1, 0x80, 0xbf);
      if (byte === 0xe0) return next(2, 0xa0, 0xbf);
      if (byte === 0xed) return next(2, 0x80, 0x9f);
      if (byte >= 0xe1 && byte <= 0xef) return next(2, 0x80, 0xbf);
      if (byte === 0xf0) return next(3, 0x90, 0xbf);
      if (byte >= 0xf1 && byte <= 0xf3) return next(3, 0x80, 0xbf);
      if (byte === 0xf4) return next(3, 0x80, 0x8f);
      return null;
    }
    case 'num': {
      const digit = byte >= 0x30 && byte <= 0x39;
      const ended: Step = { k: 'pass' };
      switch (frame.phase) {
        case 'start':
          if (byte === 0x2d && frame.negative) return { k: 'ok', frame: { ...frame, phase: 'minus' } };
          if (byte === 0x30) return { k: 'ok', frame: { ...frame, phase: 'zero', digits: 1 } };
          return digit ? { k: 'ok', frame: { ...frame, phase: 'int', digits: 1 } } : null;
        case 'minus':
          if (byte === 0x30) return { k: 'ok', frame: { ...frame, phase: 'zero', digits: 1 } };
          return digit ? { k: 'ok', frame: { ...frame, phase: 'int', digits: 1 } } : null;
        case 'zero':
        case 'int':
          if (digit && frame.phase === 'int' && frame.digits < MAX_INT_DIGITS) return { k: 'ok', frame: { ...frame, digits: frame.digits + 1 } };
          if (byte === 0x2e && !frame.integer) return { k: 'ok', frame: { ...frame, phase: 'dot', digits: 0 } };
          return digit ? null : ended;
        case 'dot':
          return digit ? { k: 'ok', frame: { ...frame, phase: 'frac', digits: 1 } } : null;
        case 'frac':
          if (digit) return frame.digits < MAX_FRAC_DIGITS ? { k: 'ok', frame: { ...frame, digits: frame.digits + 1 } } : null;
          return ended;
      }
      return null;
    }
    case 'lit': {
      const left = frame.values.filter((v) => v.length > frame.pos && v[frame.pos] === byte);
      if (left.length === 0) return frame.values.some((v) => v.length === frame.pos) ? { k: 'pass' } : null;
      const pos = frame.pos + 1;
      if (left.every((v) => v.length === pos)) return { k: 'ok', frame: null };
      return { k: 'ok', frame: { t: 'lit', values: left, pos } };
    }
    case 'seq': {
      const { parts } = frame.node;
      if (frame.idx >= parts.length) return { k: 'pass' };
      const part = parts[frame.idx];
      if (part instanceof Uint8Array) {
        if (part[frame.pos] !== byte) return null;
        const done = frame.pos + 1 === part.length;
        if (done && frame.idx + 1 === parts.length) return { k: 'ok', frame: null };
        return { k: 'ok', frame: done ? { ...frame, idx: frame.idx + 1, pos: 0 } : { ...frame, pos: frame.pos + 1 } };
      }
      return { k: 'delegate', frame: { ...frame, idx: frame.idx + 1, pos: 0 }, push: { t: 'value', node: part } };
    }
    case 'arr': {
      const { node } = frame;
      if (frame.phase === 'open' && byte === 0x5d) return node.min === 0 ? { k: 'ok', frame: null } : null;
      if (frame.phase === 'open' || frame.phase === 'item') {
        if (frame.count >= node.max) return null;
        return { k: 'delegate', frame: { ...frame, count: frame.count + 1, phase: 'after' }, push: { t: 'value', node: node.items } };
      }
      if (byte === 0x2c) return frame.count < node.max ? { k: 'ok', frame: { ...frame, phase: 'item' } } : null;
      if (byte === 0x5d) return frame.count >= node.min ? { k: 'ok', frame: null } : null;
      return null;
    }
    case 'obj': {
      switch (frame.phase) {
        case 'open':
          if (byte === 0x7d) return { k: 'ok', frame: null };
          return byte === QUOTE ? { k: 'ok', frame: { ...frame, count: 1, phase: 'colon' }, push: stringFrame(0, Math.min(64, limits.maxStringLength)) } : null;
        case 'key':
          return byte === QUOTE ? { k: 'ok', frame: { ...frame, count: frame.count + 1, phase: 'colon' }, push: stringFrame(0, Math.min(64, limits.maxStringLength)) } : null;
        case 'colon':
          return byte === 0x3a ? { k: 'ok', frame: { ...frame, phase: 'value' } } : null;
        case 'value':
          return { k: 'delegate', frame: { ...frame, phase: 'after' }, push: { t: 'value', node: { id: -1000 - frame.depth, kind: 'any', depth: frame.depth } } };
        case 'after':
          if (byte === 0x2c) return frame.count < limits.maxProperties ? { k: 'ok', frame: { ...frame, phase: 'key' } } : null;
          return byte === 0x7d ? { k: 'ok', frame: null } : null;
      }
    }
  }
  return null;
}

/** The state after `byte`, or undefined when the automaton rejects it. */
export function advance(state: State, byte: number, limits: JsonLimits): State | undefined {
  let stack = state;
  for (;;) {
    if (stack.length === 0) return undefined;
    const step = stepFrame(stack[stack.length - 1], byte, limits);
    if (step === null) return undefined;
    const below = stack.slice(0, -1);
    switch (step.k) {
      case 'ok': {
        const next = step.frame ? [...below, step.frame] : below;
        return step.push ? [...next, step.push] : next;
      }
      case 'redo':
        stack = [...below, step.frame];
        continue;
      case 'delegate':
        stack = [...below, step.frame, step.push];
        continue;
      case 'pass':
        stack = below;
        continue;
    }
  }
}

function frameCanEnd(frame: Frame): boolean {
  if (frame.t === 'num') return frame.phase === 'zero' || frame.phase === 'int' || frame.phase === 'frac';
  if (frame.t === 'lit') return frame.values.some((v) => v.length === frame.pos);
  if (frame.t === 'seq') return frame.idx >= frame.node.parts.length;
  return false;
}

/** Whether the output may end here: the value is complete. */
export function canEnd(state: State): boolean {
  return state.every(frameCanEnd);
}

/** A stable key of a state, for caching its token mask. */
export function stateKey(state: State): string {
  return state
    .map((f) => {
      switch (f.t) {
        case 'value':
          return `v${f.node.id}`;
        case 'str':
          return `s${f.min},${f.max},${f.count},${f.esc ? 1 : 0},${f.cont},${f.lo},${f.hi}`;
        case 'num':
          return `n${f.integer ? 1 : 0}${f.negative ? 1 : 0}${f.phase}${f.digits}`;
        case 'lit':
          return `l${f.pos}:${f.values.map((v) => Buffer.from(v).toString('hex')).join('|')}`;
        case 'seq':
          return `q${f.node.id},${f.idx},${f.pos}`;
        case 'arr':
          return `a${f.node.id},${f.count},${f.phase}`;
        case 'obj':
          return `o${f.depth},${f.count},${f.phase}`;
      }
    })
    .join('/');
}
