/**
 * One entry point for any index location: a `postgres://` / `postgresql://` URL opens the pgvector adapter
 * (loaded lazily, so `pg` is only needed by those who use it); anything else is a folder for the embedded index.
 */
import { HnswIndex, type HnswOptions } from './hnsw.js';
import type { OpenIndexOptions, VectorIndex } from './types.js';

export interface OpenVectorIndexOptions extends Partial<OpenIndexOptions>, Partial<HnswOptions> {
  /** pgvector table name. @default 'moxing_vectors' */
  table?: string;
}

export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

export async function openVectorIndex(location: string, options: OpenVectorIndexOptions = {}): Promise<VectorIndex> {
  if (isPostgresUrl(location)) {
    const { PgVectorIndex } = await import('./pgvector.js');
    return PgVectorIndex.open(location, { dim: options.dim, attributes: options.attributes, table: options.table, efSearch: options.efSearch });
  }
  return HnswIndex.open(location, options);
}
