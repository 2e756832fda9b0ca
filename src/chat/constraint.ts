/**
 * Token masks from a byte automaton: the vocabulary's token bytes in a trie, walked from the automaton's state,
 * so the allowed tokens are found without testing each of them alone. Masks are cached per grammar and state.
 */
import { MoxingError } from '../errors.js';
import { advance, canEnd, stateKey, type JsonGrammar, type State } from './json-grammar.js';

interface TrieNode {
  children: Map<number, TrieNode>;
  ids: number[];
}

/** The token bytes of a vocabulary as a trie (built once per tokenizer). */
export class TokenTrie {
  readonly root: TrieNode = { children: new Map(), ids: [] };

  constructor(tokenBytes: readonly (Uint8Array | undefined)[]) {
    tokenBytes.forEach((token, id) => {
      if (!token || token.length === 0) return;
      let node = this.root;
      for (const byte of token) {
        let child = node.children.get(byte);
        if (!child) {
          child = { children: new Map(), ids: [] };
          node.children.set(byte, child);
        }
        node = child;
      }
      node.ids.push(id);
    });
  }
}

const tries = new WeakMap<readonly (Uint8Array | undefined)[], TokenTrie>();

export function trieOf(tokenBytes: readonly (Uint8Array | undefined)[]): TokenTrie {
  let trie = tries.get(tokenBytes);
  if (!trie) {
    trie = new TokenTrie(tokenBytes);
    tries.set(tokenBytes, trie);
  }
  return trie;
}

/** Allowed next tokens: ids, and whether the output may end (end-of-sequence allowed). */
export interface TokenMask {
  readonly ids: readonly number[];
  readonly end: boolean;
}

/** What the generation loop asks of a constraint. */
export interface TokenConstraint {
  mask(): TokenMask;
  accept(token: number): void;
}

const MAX_CACHED_MASKS = 4096;
const masks = new WeakMap<JsonGrammar, Map<string, TokenMask>>();

/** Output held to a grammar, one token at a time. */
export class GrammarConstraint implements TokenConstraint {
  private state: State;

  constructor(
    private readonly grammar: JsonGrammar,
    private readonly tokenBytes: readonly (Uint8Array | undefined)[],
  ) {
    this.state = grammar.start();
  }

  get complete(): boolean {
    return canEnd(this.state);
  }

  mask(): TokenMask {
    let cache = masks.get(this.grammar);
    if (!cache) {
      cache = new Map();
      masks.set(this.grammar, cache);
    }
    const key = stateKey(this.state);
    const cached = cache.get(key);
    if (cached) return cached;
    const ids: number[] = [];
    const limits = this.grammar.limits;
    const walk = (node: TrieNode, state: State) => {
      for (const [byte, child] of node.children) {
        const next = advance(state, byte, limits);
        if (next === undefined) continue;
        for (const id of child.ids) ids.push(id);
        if (child.children.size > 0) walk(child, next);
      }
    };
    walk(trieOf(this.tokenBytes).root, this.state);
    const mask = { ids, end: canEnd(this.state) };
    if (ids.length === 0 && !mask.end) throw new MoxingError('INTERNAL', 'constrained decoding reached a state no token can continue');
    if (cache.size >= MAX_CACHED_MASKS) cache.clear();
    cache.set(key, mask);
    return mask;
  }

  accept(token: number): void {
    const bytes = this.tokenBytes[token];
    if (!bytes) throw new MoxingError('INTERNAL', `token ${token} has no bytes the grammar can check`);
    let state: State | undefined = this.state;
    for (const byte of bytes) {
      state = advance(state, byte, this.grammar.limits);
      if (state === undefined) throw new MoxingError('INTERNAL', `token ${token} breaks the output grammar`);
    }
    this.state = state;
  }
}
