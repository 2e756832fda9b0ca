/**
 * The vector index interface: keyed unit vectors with JSON metadata, cosine similarity search. The embedded
 * HNSW index and the pgvector adapter both implement it, so the image index, search and dedupe do not care
 * which one stores the vectors.
 */

/** One stored item. `key` is unique (a file path for image indexes). */
export interface VectorRecord {
  readonly key: string;
  readonly vector: Float32Array;
  readonly metadata?: Readonly<Record<string, unknown>> | null;
}

/** A search result; `score` is the cosine similarity (1 = same direction). */
export interface SearchHit {
  readonly key: string;
  readonly score: number;
  readonly metadata: Readonly<Record<string, unknown>> | null;
}

export interface SearchOptions {
  /** Candidate list size of approximate search (HNSW ef / hnsw.ef_search); raised to k when smaller. @default the index's own */
  ef?: number;
}

export interface VectorIndex {
  /** Vector width. */
  readonly dim: number;
  /** Number of stored items. */
  count(): Promise<number>;
  /** Inserts or replaces items by key. */
  upsert(records: readonly VectorRecord[]): Promise<void>;
  /** Removes items by key; returns how many existed. */
  remove(keys: readonly string[]): Promise<number>;
  /** One item, or null. */
  get(key: string): Promise<VectorRecord | null>;
  /** Every key with its metadata (for incremental indexing), in key order. */
  list(): Promise<{ key: string; metadata: Readonly<Record<string, unknown>> | null }[]>;
  /** The k most similar items, best first. */
  search(vector: Float32Array, k: number, options?: SearchOptions): Promise<SearchHit[]>;
  /** Index-wide attributes fixed at creation (e.g. the model and pooling that made the vectors). */
  attributes(): Promise<Readonly<Record<string, string>>>;
  /** Persists pending changes (where the store needs it) and releases resources. */
  close(): Promise<void>;
}

/** How to open or create an index. */
export interface OpenIndexOptions {
  /** Vector width; required to create, checked when opening. */
  dim: number;
  /**
   * Attributes stored at creation and checked when opening: an index built with another model or pooling
   * must not be mixed with new vectors.
   */
  attributes?: Readonly<Record<string, string>>;
}
