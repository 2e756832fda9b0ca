/**
 * The embedded vector index: an HNSW graph (hnswlib, cosine space) persisted beside a SQLite database that
 * holds each item's key, metadata and vector.
 *
 * SQLite is the source of truth; the HNSW file is a cache of the graph. Every change marks the database
 * "dirty" until the graph is written again on `save()`/`close()`, so a crash between the two costs a rebuild
 * of the graph from SQLite on the next open, never lost or mismatched items.
 *
 * Layout of an index folder: `index.sqlite` (tables items, meta) and `vectors.hnsw`.
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import hnswlib from 'hnswlib-node';
import { MoxingError } from '../errors.js';
import type { OpenIndexOptions, SearchHit, SearchOptions, VectorIndex, VectorRecord } from './types.js';

const { HierarchicalNSW } = hnswlib;
type Hnsw = InstanceType<typeof HierarchicalNSW>;

export interface HnswOptions {
  /** Graph degree (links per node). Higher: better recall on high-dimensional data, more memory. @default 32 */
  m: number;
  /** Candidate list size while building. @default 200 */
  efConstruction: number;
  /** Candidate list size while searching (raised to k when smaller). @default 128 */
  efSearch: number;
  /** Seed of the level generator, for reproducible graphs. @default 100 */
  seed: number;
}

export const DEFAULT_HNSW: Readonly<HnswOptions> = Object.freeze({ m: 32, efConstruction: 200, efSearch: 128, seed: 100 });

const DB_FILE = 'index.sqlite';
const GRAPH_FILE = 'vectors.hnsw';
const INITIAL_CAPACITY = 1024;

type Json = Record<string, unknown>;

export interface OpenHnswOptions extends Partial<OpenIndexOptions>, Partial<HnswOptions> {}

/** Whether `dir` holds an embedded index. */
export function hnswIndexExists(dir: string): boolean {
  return existsSync(join(dir, DB_FILE));
}

export class HnswIndex implements VectorIndex {
  private graph: Hnsw;
  private dirty: boolean;
  /** Live item count, kept in step with the items table (COUNT(*) would scan it on every search). */
  private live: number;
  private closed = false;
  private readonly statements;

  private constructor(
    readonly dir: string,
    readonly dim: number,
    private readonly db: Database.Database,
    private readonly options: HnswOptions,
  ) {
    this.statements = {
      byKey: db.prepare<[string], { label: number }>('SELECT label FROM items WHERE key = ?'),
      byLabel: db.prepare<[number], { key: string; metadata: string | null }>('SELECT key, metadata FROM items WHERE label = ?'),
      get: db.prepare<[string], { key: string; metadata: string | null; vector: Buffer }>('SELECT key, metadata, vector FROM items WHERE key = ?'),
      insert: db.prepare('INSERT INTO items (key, metadata, vector) VALUES (?, ?, ?)'),
      update: db.prepare('UPDATE items SET metadata = ?, vector = ? WHERE label = ?'),
      remove: db.prepare('DELETE FROM items WHERE label = ?'),
      count: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM items'),
      list: db.prepare<[], { key: string; metadata: string | null }>('SELECT key, metadata FROM items ORDER BY key'),
      all: db.prepare<[], { label: number; vector: Buffer }>('SELECT label, vector FROM items'),
      setMeta: db.prepare('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value'),
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE name = ?'),
      allMeta: db.prepare<[], { name: string; value: string }>("SELECT name, value FROM meta WHERE name LIKE 'attr.%'"),
    };
    this.dirty = this.statements.getMeta.get('dirty')?.value === '1';
    this.live = this.statements.count.get()?.n ?? 0;
    this.graph = this.loadGraph();
  }

  /**
   * Opens the index in `dir`, creating it (with `dim` and `attributes`) when absent.
   * Opening an existing index checks `dim` and `attributes` when given.
   */
  static open(dir: string, options: OpenHnswOptions = {}): HnswIndex {
    const settings: HnswOptions = { ...DEFAULT_HNSW, ...stripUndefined(options) };
    if (existsSync(dir) && !statSync(dir).isDirectory()) {
      throw new MoxingError('BAD_ARGUMENT', `index path ${dir} is a file; give a folder for the index`);
    }
    const creating = !hnswIndexExists(dir);
    if (creating && !(Number.isInteger(options.dim) && (options.dim as number) > 0)) {
      throw new MoxingError('NOT_FOUND', `no index at ${dir}; build one first with \`moxing index DIR\``);
    }
    mkdirSync(dir, { recursive: true });
    let db: Database.Database | undefined;
    try {
      db = new Database(join(dir, DB_FILE));
      db.pragma('journal_mode = WAL');
      db.exec(`CREATE TABLE IF NOT EXISTS items (label INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, metadata TEXT, vector BLOB NOT NULL);
               CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);`);
    } catch (cause) {
      db?.close();
      throw new MoxingError('BAD_ARGUMENT', `cannot open the index database in ${dir}: ${(cause as Error).message}`, { cause });
    }
    const stored = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE name = ?');
    if (creating) {
      const put = db.prepare('INSERT INTO meta (name, value) VALUES (?, ?)');
      db.transaction(() => {
        put.run('dim', String(options.dim));
        put.run('space', 'cosine');
        for (const [k, v] of Object.entries(options.attributes ?? {})) put.run(`attr.${k}`, v);
      })();
    }
    const dim = Number(stored.get('dim')?.value);
    if (options.dim !== undefined && options.dim !== dim) {
      db.close();
      throw new MoxingError('BAD_ARGUMENT', `the index in ${dir} holds ${dim}-d vectors, not ${options.dim}-d; use a new index folder or the model and pooling it was built with`);
    }
    for (const [k, v] of Object.entries(options.attributes ?? {})) {
      const have = stored.get(`attr.${k}`)?.value;
      if (have !== undefined && have !== v) {
        db.close();
        throw new MoxingError('BAD_ARGUMENT', `the index in ${dir} was built with ${k} "${have}", not "${v}"; use the same ${k} or a new index folder`);
      }
    }
    try {
      return new HnswIndex(dir, dim, db, settings);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  async count(): Promise<number> {
    return this.live;
  }

  async attributes(): Promise<Readonly<Record<string, string>>> {
    return Object.fromEntries(this.statements.allMeta.all().map((r) => [r.name.slice(5), r.value]));
  }

  async upsert(records: readonly VectorRecord[]): Promise<void> {
    this.assertOpen();
    if (records.length === 0) return;
    for (const r of records) this.checkVector(r.vector, r.key);
    const labels: { label: number; fresh: boolean }[] = [];
    this.db.transaction(() => {
      this.writeDirtyMark();
      for (const r of records) {
        const blob = vectorBlob(r.vector);
        const metadata = r.metadata ? JSON.stringify(r.metadata) : null;
        const existing = this.statements.byKey.get(r.key);
        if (existing) {
          this.statements.update.run(metadata, blob, existing.label);
          labels.push({ label: existing.label, fresh: false });
        } else {
          labels.push({ label: Number(this.statements.insert.run(r.key, metadata, blob).lastInsertRowid), fresh: true });
        }
      }
    })();
    // The graph and the counters change only after the commit: a rolled-back transaction leaves them as the table is.
    this.dirty = true;
    this.live += labels.filter((l) => l.fresh).length;
    this.syncGraph(() => {
      this.ensureCapacity(this.graph.getCurrentCount() + records.length);
      // Re-adding an existing label updates its vector in place; a new label may take the slot of a deleted one.
      records.forEach((r, i) => this.graph.addPoint(Array.from(r.vector), labels[i].label, labels[i].fresh));
    });
  }

  async remove(keys: readonly string[]): Promise<number> {
    this.assertOpen();
    const labels: number[] = [];
    this.db.transaction(() => {
      for (const key of keys) {
        const row = this.statements.byKey.get(key);
        if (!row) continue;
        if (labels.length === 0) this.writeDirtyMark();
        this.statements.remove.run(row.label);
        labels.push(row.label);
      }
    })();
    if (labels.length === 0) return 0;
    // Marked in the graph after the commit, as in upsert: a failed delete must not hide items the table keeps.
    this.dirty = true;
    this.live -= labels.length;
    this.syncGraph(() => {
      for (const label of labels) this.graph.markDelete(label);
    });
    return labels.length;
  }

  async get(key: string): Promise<VectorRecord | null> {
    const row = this.statements.get.get(key);
    if (!row) return null;
    return { key: row.key, vector: blobVector(row.vector), metadata: parseMetadata(row.metadata) };
  }

  async list(): Promise<{ key: string; metadata: Readonly<Record<string, unknown>> | null }[]> {
    return this.statements.list.all().map((r) => ({ key: r.key, metadata: parseMetadata(r.metadata) }));
  }

  async search(vector: Float32Array, k: number, options: SearchOptions = {}): Promise<SearchHit[]> {
    this.assertOpen();
    this.checkVector(vector, 'query');
    if (!Number.isInteger(k) || k < 1) throw new MoxingError('BAD_ARGUMENT', `k must be a whole number >= 1, got ${k}`);
    const n = Math.min(k, this.live);
    if (n === 0) return [];
    this.graph.setEf(Math.max(options.ef ?? this.options.efSearch, n));
    const { neighbors, distances } = this.graph.searchKnn(Array.from(vector), n);
    const hits: SearchHit[] = [];
    neighbors.forEach((label, i) => {
      const row = this.statements.byLabel.get(label);
      if (row) hits.push({ key: row.key, score: 1 - distances[i], metadata: parseMetadata(row.metadata) });
    });
    return hits;
  }

  /** Writes the graph file (atomically) and clears the dirty mark. */
  async save(): Promise<void> {
    this.assertOpen();
    if (!this.dirty && existsSync(join(this.dir, GRAPH_FILE))) return;
    const path = join(this.dir, GRAPH_FILE);
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      this.graph.writeIndexSync(tmp);
      renameSync(tmp, path);
    } catch (error) {
      rmSync(tmp, { force: true }); // no partial graph file left behind; the dirty mark makes the next open rebuild
      throw error;
    }
    this.db.transaction(() => {
      this.statements.setMeta.run('graph_labels', String(this.graph.getIdsList().length));
      this.statements.setMeta.run('dirty', '0');
    })();
    this.dirty = false;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.save();
    } finally {
      // Closed even when the graph cannot be written: SQLite still says "dirty", so the next open rebuilds.
      this.db.close();
      this.closed = true;
    }
  }

  private loadGraph(): Hnsw {
    const path = join(this.dir, GRAPH_FILE);
    if (!this.dirty && existsSync(path)) {
      try {
        const graph = new HierarchicalNSW('cosine', this.dim);
        graph.readIndexSync(path, true);
        // The label count recorded at save time guards against a graph file from another state of the database.
        if (String(graph.getIdsList().length) === this.statements.getMeta.get('graph_labels')?.value) return graph;
      } catch {
        // fall through: rebuild from SQLite below
      }
    }
    return this.rebuild();
  }

  /** Builds the graph from the vectors in SQLite (first open, crash recovery, or a lost graph file). */
  private rebuild(): Hnsw {
    const rows = this.statements.all.all();
    const graph = new HierarchicalNSW('cosine', this.dim);
    graph.initIndex(Math.max(INITIAL_CAPACITY, rows.length * 2), this.options.m, this.options.efConstruction, this.options.seed, true);
    for (const row of rows) graph.addPoint(Array.from(blobVector(row.vector)), row.label);
    rmSync(join(this.dir, GRAPH_FILE), { force: true });
    this.dirty = true;
    return graph;
  }

  private ensureCapacity(needed: number): void {
    const max = this.graph.getMaxElements();
    if (needed > max) this.graph.resizeIndex(Math.max(needed, max * 2));
  }

  /**
   * Writes the dirty mark inside the caller's transaction. `this.dirty` is set by the caller after the commit:
   * set here, a rollback would leave it true while the table says clean, and later changes would skip the mark.
   */
  private writeDirtyMark(): void {
    if (!this.dirty) this.statements.setMeta.run('dirty', '1');
  }

  /** Applies a committed change to the graph; if hnswlib fails part-way, the graph is rebuilt from the table. */
  private syncGraph(apply: () => void): void {
    try {
      apply();
    } catch {
      this.graph = this.rebuild();
    }
  }

  private checkVector(vector: Float32Array, what: string): void {
    if (!(vector instanceof Float32Array) || vector.length !== this.dim) {
      throw new MoxingError('BAD_ARGUMENT', `${what}: expected a ${this.dim}-d Float32Array, got length ${vector?.length}`);
    }
    for (let i = 0; i < vector.length; i++) {
      if (!Number.isFinite(vector[i])) throw new MoxingError('BAD_ARGUMENT', `${what}: the vector has a non-finite value at ${i}`);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new MoxingError('BAD_ARGUMENT', `the index in ${this.dir} is closed`);
  }
}

function vectorBlob(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function blobVector(b: Buffer): Float32Array {
  // Copy: the Buffer may be unaligned for a Float32Array view.
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

function parseMetadata(text: string | null): Json | null {
  return text === null ? null : (JSON.parse(text) as Json);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
