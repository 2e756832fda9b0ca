/** vectors/: the vector index interface, the embedded HNSW + SQLite index, the pgvector adapter, exact search. */
export type { VectorIndex, VectorRecord, SearchHit, SearchOptions, OpenIndexOptions } from './types.js';
export { HnswIndex, DEFAULT_HNSW } from './hnsw.js';
export { hnswIndexExists } from './hnsw-files.js';
export type { HnswOptions, OpenHnswOptions } from './hnsw.js';
export { PgVectorIndex, DEFAULT_PGVECTOR } from './pgvector.js';
export type { PgVectorOptions } from './pgvector.js';
export { openVectorIndex, isPostgresUrl } from './open.js';
export type { OpenVectorIndexOptions } from './open.js';
export { exactSearch, cosineSimilarity } from './exact.js';
export { findDuplicates, DEFAULT_DUPLICATES } from './duplicates.js';
export type { DuplicateOptions, DuplicateGroup } from './duplicates.js';
