/**
 * The embedded vector index: an HNSW graph (hnswlib, cosine space) persisted beside a SQLite database that
 * holds each item's key, metadata and vector.
 *
 * SQLite is the source of truth; the HNSW file is a cache of the graph. Every change marks the database
 * "dirty" until the graph is written again on `save()`/`close()`, so a crash between the two costs a rebuild
 * of the graph from SQLite on the next open, never lost or mismatched items.
 *
 * One writer at a time, many readers: each write (an upsert, a remove, the save of the graph) holds the
 * folder's `write.lock` (src/lock.ts: a dead owner's lock is taken over) for the length of that one call, so
 * two `moxing index` runs interleave their batches instead of overwriting each other's graph. A second
 * writer waits at most `lockTimeoutMs` for a live one, then fails with INDEX_LOCKED. Every committed write
 * bumps the `generation` counter in the meta table and stamps the rows it wrote (items.gen) or deleted
 * (the removed table) with it; a handle whose generation is behind (a reader opened before a write, or a
 * writer that just took the lock) applies just those rows to its graph, so searches see every committed item.
 * The saved graph records the generation it holds (meta graph_generation), and an opened graph is caught up
 * the same way and checked to hold every label of the table.
 *
 * Layout of an index folder: `index.sqlite` (tables items, removed, meta), `vectors.hnsw`, and `write.lock`
 * while a write runs.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import hnswlib from 'hnswlib-node';
import { MoxingError } from '../errors.js';
import { lockOwnerPid, tryAcquireLock } from '../lock.js';
import { blobVector, DB_FILE, GRAPH_FILE, hnswIndexExists, LOCK_BASE, prepareSchema, replaceDurably, vectorBlob } from './hnsw-files.js';
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
  /**
   * How long a write waits for another process's write to the same folder before failing with INDEX_LOCKED,
   * in milliseconds. One write holds the lock for one batch (or one save of the graph), so waits are short.
   * @default 60000
   */
  lockTimeoutMs: number;
}

export const DEFAULT_HNSW: Readonly<HnswOptions> = Object.freeze({ m: 32, efConstruction: 200, efSearch: 128, seed: 100, lockTimeoutMs: 60_000 });

const INITIAL_CAPACITY = 1024;

type Json = Record<string, unknown>;

export interface OpenHnswOptions extends Partial<OpenIndexOptions>, Partial<HnswOptions> {}

export class HnswIndex implements VectorIndex {
  private graph!: Hnsw;
  /** Labels the graph's label table holds (live or marked deleted); a superset after slot reuse, which is safe. */
  private labels = new Set<number>();
  /** The table generation the graph holds. */
  private generation = 0;
  /** The graph holds changes the graph file lacks. */
  private dirty: boolean;
  /** Live item count, kept in step with the items table (COUNT(*) would scan it on every search). */
  private live: number;
  /** This handle has written: its close must save the graph (a reader's close saves only if the lock is free). */
  private wrote = false;
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
      insert: db.prepare('INSERT INTO items (key, metadata, vector, gen) VALUES (?, ?, ?, ?)'),
      update: db.prepare('UPDATE items SET metadata = ?, vector = ?, gen = ? WHERE label = ?'),
      remove: db.prepare('DELETE FROM items WHERE label = ?'),
      tombstone: db.prepare('INSERT INTO removed (label, gen) VALUES (?, ?) ON CONFLICT(label) DO UPDATE SET gen = excluded.gen'),
      count: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM items'),
      list: db.prepare<[], { key: string; metadata: string | null }>('SELECT key, metadata FROM items ORDER BY key'),
      all: db.prepare<[], { label: number; vector: Buffer }>('SELECT label, vector FROM items'),
      allLabels: db.prepare<[], { label: number }>('SELECT label FROM items'),
      vectorOf: db.prepare<[number], { vector: Buffer }>('SELECT vector FROM items WHERE label = ?'),
      changedSince: db.prepare<[number], { label: number; vector: Buffer }>('SELECT label, vector FROM items WHERE gen > ?'),
      removedSince: db.prepare<[number], { label: number }>('SELECT label FROM removed WHERE gen > ?'),
      setMeta: db.prepare('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value'),
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE name = ?'),
      allMeta: db.prepare<[], { name: string; value: string }>("SELECT name, value FROM meta WHERE name LIKE 'attr.%'"),
    };
    this.dirty = this.statements.getMeta.get('dirty')?.value === '1';
    this.live = this.statements.count.get()?.n ?? 0;
    this.loadGraph();
  }

  /**
   * Opens the index in `dir`, creating it (with `dim` and `attributes`) when absent.
   * Opening an existing index checks `dim` and `attributes` when given.
   * A database that cannot be opened (not SQLite, unreadable) is UNAVAILABLE; a lost or corrupt graph file is rebuilt.
   */
  static open(dir: string, options: OpenHnswOptions = {}): HnswIndex {
    const settings: HnswOptions = { ...DEFAULT_HNSW, ...stripUndefined(options) };
    if (existsSync(dir) && !statSync(dir).isDirectory()) {
      throw new MoxingError('BAD_ARGUMENT', `index path ${dir} is a file; give a folder for the index`);
    }
    const creating = !hnswIndexExists(dir);
    if (creating && !validDim(options.dim)) {
      throw new MoxingError('NOT_FOUND', `no index at ${dir}; build one first with \`moxing index DIR\``);
    }
    let db: Database.Database | undefined;
    try {
      mkdirSync(dir, { recursive: true });
      db = new Database(join(dir, DB_FILE));
      db.pragma('journal_mode = WAL');
      // Given a dim, a folder that another process is creating right now (its file there, its dim not yet
      // written) is created too: whichever writes first sets the dim, and the check below compares them.
      prepareSchema(db, creating || validDim(options.dim) ? options : undefined);
    } catch (cause) {
      db?.close();
      // SQLite's own message ("file is not a database") names no path; the index is named as the caller gave it.
      const reason = (cause as { code?: string }).code ?? (cause as Error).message;
      throw new MoxingError(
        'UNAVAILABLE',
        `cannot open the index in ${dir}: its ${DB_FILE} is unreadable or not an index database (${reason}); restore it, or index into a new folder`,
        { cause },
      );
    }
    const stored = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE name = ?');
    const dim = Number(stored.get('dim')?.value);
    if (!(Number.isInteger(dim) && dim > 0)) {
      db.close();
      throw new MoxingError('UNAVAILABLE', `cannot open the index in ${dir}: its ${DB_FILE} records no vector size; restore it, or index into a new folder`);
    }
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
      if (error instanceof MoxingError) throw error;
      // A database whose header is sound but whose pages are not (SQLITE_CORRUPT) fails here, on first read.
      const reason = (error as { code?: string }).code ?? (error as Error).message;
      throw new MoxingError('UNAVAILABLE', `cannot read the index in ${dir} (${reason}); restore it, or index into a new folder`, { cause: error });
    }
  }

  async count(): Promise<number> {
    this.refresh();
    return this.live;
  }

  async attributes(): Promise<Readonly<Record<string, string>>> {
    return Object.fromEntries(this.statements.allMeta.all().map((r) => [r.name.slice(5), r.value]));
  }

  async upsert(records: readonly VectorRecord[]): Promise<void> {
    this.assertOpen();
    if (records.length === 0) return;
    for (const r of records) this.checkVector(r.vector, r.key);
    await this.write(() => {
      const labels: number[] = [];
      let fresh = 0;
      const generation = this.commit((gen) => {
        for (const r of records) {
          const blob = vectorBlob(r.vector);
          const metadata = r.metadata ? JSON.stringify(r.metadata) : null;
          const existing = this.statements.byKey.get(r.key);
          if (existing) {
            this.statements.update.run(metadata, blob, gen, existing.label);
            labels.push(existing.label);
          } else {
            labels.push(Number(this.statements.insert.run(r.key, metadata, blob, gen).lastInsertRowid));
            fresh++;
          }
        }
      });
      // The graph and the counters change only after the commit: a rolled-back transaction leaves them as the table is.
      this.live += fresh;
      this.syncGraph(generation, () => {
        this.ensureCapacity(this.graph.getCurrentCount() + records.length);
        records.forEach((r, i) => this.addToGraph(labels[i], r.vector));
      });
    });
  }

  async remove(keys: readonly string[]): Promise<number> {
    this.assertOpen();
    if (keys.length === 0) return 0;
    return this.write(() => {
      const labels: number[] = [];
      // Nothing to remove is no write: the generation stays, so readers do not catch up for nothing.
      if (!keys.some((key) => this.statements.byKey.get(key))) return 0;
      const generation = this.commit((gen) => {
        for (const key of keys) {
          const row = this.statements.byKey.get(key);
          if (!row) continue;
          this.statements.remove.run(row.label);
          this.statements.tombstone.run(row.label, gen);
          labels.push(row.label);
        }
      });
      // Marked in the graph after the commit, as in upsert: a failed delete must not hide items the table keeps.
      this.live -= labels.length;
      this.syncGraph(generation, () => {
        for (const label of labels) this.deleteFromGraph(label);
      });
      return labels.length;
    });
  }

  async get(key: string): Promise<VectorRecord | null> {
    const row = this.statements.get.get(key);
    if (!row) return null;
    return { key: row.key, vector: blobVector(row.vector), metadata: parseMetadata(row.metadata) };
  }

  async list(): Promise<{ key: string; metadata: Readonly<Record<string, unknown>> | null }[]> {
    return this.statements.list.all().map((r) => ({ key: r.key, metadata: parseMetadata(r.metadata) }));
  }

  /** The k most similar items; first catches up with writes committed by other handles or processes since the last call. */
  async search(vector: Float32Array, k: number, options: SearchOptions = {}): Promise<SearchHit[]> {
    this.assertOpen();
    this.checkVector(vector, 'query');
    if (!Number.isInteger(k) || k < 1) throw new MoxingError('BAD_ARGUMENT', `k must be a whole number >= 1, got ${k}`);
    this.refresh();
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

  /**
   * Brings this handle up to the latest committed write (by any handle or process): the rows written or
   * removed since its generation are applied to its graph. One indexed meta lookup when nothing changed;
   * search and count call it, so a long-lived reader (the server) sees new items without reopening.
   * Returns the generation it now holds.
   */
  refresh(): number {
    this.assertOpen();
    this.catchUp();
    return this.generation;
  }

  /** Writes the graph file (atomically, fsynced) and clears the dirty mark. */
  async save(): Promise<void> {
    this.assertOpen();
    if (!this.dirty && this.storedGeneration() === this.generation && existsSync(join(this.dir, GRAPH_FILE))) return;
    await this.write(() => this.writeGraph());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.wrote) await this.save();
      else await this.saveIfFree();
    } finally {
      // Closed even when the graph cannot be written: SQLite still says "dirty", so the next open rebuilds.
      this.db.close();
      this.closed = true;
    }
  }

  /** A reader saves a graph it had to rebuild or catch up, but never waits for (or fails on) a writer for it. */
  private async saveIfFree(): Promise<void> {
    if (!this.dirty && this.storedGeneration() === this.generation && existsSync(join(this.dir, GRAPH_FILE))) return;
    const release = await tryAcquireLock(join(this.dir, LOCK_BASE), 0);
    if (!release) return;
    try {
      this.catchUp();
      this.writeGraph();
    } finally {
      await release();
    }
  }

  private writeGraph(): void {
    if (!this.dirty && this.storedGeneration() === this.generation && existsSync(join(this.dir, GRAPH_FILE))) return;
    // No partial graph file is left behind on failure; the dirty mark makes the next open catch up or rebuild.
    replaceDurably(join(this.dir, GRAPH_FILE), (tmp) => this.graph.writeIndexSync(tmp));
    this.db.transaction(() => {
      this.statements.setMeta.run('graph_generation', String(this.generation));
      this.statements.setMeta.run('dirty', '0');
    })();
    this.dirty = false;
  }

  /**
   * Runs one write as the folder's only writer: waits for another writer's lock (at most lockTimeoutMs),
   * then catches up with what it committed, so this write and the graph build on the latest table.
   */
  private async write<T>(work: () => T): Promise<T> {
    const lockPath = join(this.dir, LOCK_BASE);
    const release = await tryAcquireLock(lockPath, this.options.lockTimeoutMs);
    if (!release) {
      const pid = await lockOwnerPid(lockPath);
      throw new MoxingError(
        'INDEX_LOCKED',
        `the index in ${this.dir} is being written by another process${pid ? ` (pid ${pid})` : ''} for over ${this.options.lockTimeoutMs} ms; wait for it to finish and try again`,
      );
    }
    try {
      this.assertOpen();
      this.catchUp();
      this.wrote = true;
      return work();
    } finally {
      await release();
    }
  }

  /**
   * Commits `change` as the next generation, with the dirty mark; returns that generation. Called under the lock.
   * The transaction is immediate: it reads the generation and then writes, and a deferred one would fail with
   * SQLITE_BUSY whenever another process commits between the two (a second process creating the same index).
   */
  private commit(change: (generation: number) => void): number {
    let generation = 0;
    this.db.transaction(() => {
      generation = this.storedGeneration() + 1;
      this.statements.setMeta.run('generation', String(generation));
      this.statements.setMeta.run('dirty', '1');
      change(generation);
    }).immediate();
    return generation;
  }

  private storedGeneration(): number {
    return Number(this.statements.getMeta.get('generation')?.value ?? 0);
  }

  private loadGraph(): void {
    const path = join(this.dir, GRAPH_FILE);
    const recorded = this.statements.getMeta.get('graph_generation')?.value;
    if (recorded !== undefined && existsSync(path)) {
      try {
        const graph = new HierarchicalNSW('cosine', this.dim);
        graph.readIndexSync(path, true);
        this.graph = graph;
        this.labels = new Set(graph.getIdsList());
        this.generation = Number(recorded);
        // Rows committed after the graph was saved (a writer that has not saved yet, or died first) are applied.
        this.catchUp();
        if (this.holdsEveryLabel()) return;
      } catch {
        // fall through: rebuild from SQLite below
      }
    }
    this.rebuild();
  }

  /**
   * Applies the rows written or removed after this handle's generation, read in one snapshot with the
   * generation they lead to. Re-applying a row the graph already has only rewrites its vector, so a graph
   * saved a little later than its recorded generation is caught up correctly too.
   */
  private catchUp(): void {
    if (this.storedGeneration() === this.generation) return;
    const { generation, changed, removed, live } = this.db.transaction(() => ({
      generation: this.storedGeneration(),
      changed: this.statements.changedSince.all(this.generation),
      removed: this.statements.removedSince.all(this.generation),
      live: this.statements.count.get()?.n ?? 0,
    }))();
    this.syncGraph(generation, () => {
      for (const { label } of removed) this.deleteFromGraph(label);
      this.ensureCapacity(this.graph.getCurrentCount() + changed.length);
      for (const row of changed) this.addToGraph(row.label, blobVector(row.vector));
    });
    this.live = live;
  }

  /** Whether every row of the table has a node (a graph saved clean by a writer that missed rows fails this). */
  private holdsEveryLabel(): boolean {
    return this.statements.allLabels.all().every((r) => this.labels.has(r.label));
  }

  /** Builds the graph from the vectors in SQLite (first open, crash recovery, or a lost or corrupt graph file). */
  private rebuild(): void {
    const { rows, generation } = this.db.transaction(() => ({ rows: this.statements.all.all(), generation: this.storedGeneration() }))();
    const graph = new HierarchicalNSW('cosine', this.dim);
    graph.initIndex(Math.max(INITIAL_CAPACITY, rows.length * 2), this.options.m, this.options.efConstruction, this.options.seed, true);
    for (const row of rows) graph.addPoint(Array.from(blobVector(row.vector)), row.label);
    this.graph = graph;
    this.labels = new Set(rows.map((r) => r.label));
    this.generation = generation;
    this.live = rows.length;
    this.dirty = true;
  }

  /**
   * Adds or replaces one node. A label the graph has never held may take a deleted node's slot; one it holds
   * (even deleted) must not: hnswlib would then keep its old node under the same label.
   */
  private addToGraph(label: number, vector: Float32Array): void {
    const reuseSlot = !this.labels.has(label);
    this.graph.addPoint(Array.from(vector), label, reuseSlot);
    this.labels.add(label);
  }

  private deleteFromGraph(label: number): void {
    try {
      this.graph.markDelete(label);
    } catch {
      // Not in the graph or already deleted: a graph saved after the removal, or a row added and removed since.
    }
  }

  private ensureCapacity(needed: number): void {
    const max = this.graph.getMaxElements();
    if (needed > max) this.graph.resizeIndex(Math.max(needed, max * 2));
  }

  /** Applies a committed change to the graph; if hnswlib fails part-way, the graph is rebuilt from the table. */
  private syncGraph(generation: number, apply: () => void): void {
    this.dirty = true;
    try {
      apply();
      this.generation = generation;
    } catch {
      this.rebuild();
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

function parseMetadata(text: string | null): Json | null {
  return text === null ? null : (JSON.parse(text) as Json);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function validDim(dim: number | undefined): boolean {
  return Number.isInteger(dim) && (dim as number) > 0;
}
