/**
 * The files of an embedded index folder: `index.sqlite` (its schema, created or brought up to date here),
 * `vectors.hnsw` (replaced durably) and `write.lock` (held by one writer at a time, see hnsw.ts).
 */
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type Database from 'better-sqlite3';
import type { OpenIndexOptions } from './types.js';

export const DB_FILE = 'index.sqlite';
export const GRAPH_FILE = 'vectors.hnsw';
/** The writer lock's base name: the lock module adds `.lock`, giving `write.lock`. */
export const LOCK_BASE = 'write';

/** Whether `dir` holds an embedded index. */
export function hnswIndexExists(dir: string): boolean {
  return existsSync(join(dir, DB_FILE));
}

/**
 * Creates the tables (and, for an index without a dim yet, `creating`'s dim and attributes) or brings an older
 * index up to this schema, in one immediate transaction so that two processes opening a new folder at once do
 * not collide.
 */
export function prepareSchema(db: Database.Database, creating: Partial<OpenIndexOptions> | undefined): void {
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS items (label INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, metadata TEXT, vector BLOB NOT NULL, gen INTEGER NOT NULL DEFAULT 0);
             CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS removed (label INTEGER PRIMARY KEY, gen INTEGER NOT NULL);`);
    const columns = db.prepare<[], { name: string }>('PRAGMA table_info(items)').all();
    const meta = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE name = ?');
    if (!columns.some((c) => c.name === 'gen')) {
      // An index from before generations: its rows are generation 0, and a clean graph whose label count
      // matches (the old check) holds generation 0.
      db.exec('ALTER TABLE items ADD COLUMN gen INTEGER NOT NULL DEFAULT 0');
      const count = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM items').get()?.n ?? 0;
      if (meta.get('dirty')?.value !== '1' && meta.get('graph_labels')?.value === String(count)) {
        db.prepare("INSERT OR REPLACE INTO meta (name, value) VALUES ('graph_generation', '0')").run();
      }
    }
    db.exec('CREATE INDEX IF NOT EXISTS items_gen ON items (gen); CREATE INDEX IF NOT EXISTS removed_gen ON removed (gen);');
    // The first of two processes creating one index at once writes its dim; the second, which may have seen the
    // database file already there, finds it written.
    if (creating && meta.get('dim') === undefined) {
      const put = db.prepare('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT(name) DO NOTHING');
      put.run('dim', String(creating.dim));
      put.run('space', 'cosine');
      for (const [k, v] of Object.entries(creating.attributes ?? {})) put.run(`attr.${k}`, v);
    }
  }).immediate();
}

/**
 * Replaces `path` with what `write` puts in a temporary file beside it: the file is fsynced before the rename
 * and the folder after it, so a power cut leaves the old file or the whole new one, never a torn one.
 */
export function replaceDurably(path: string, write: (tmp: string) => void): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    write(tmp);
    fsync(tmp);
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
  try {
    fsync(dirname(path));
  } catch {
    // Folders cannot be opened for fsync on Windows; the rename is then as durable as the platform makes it.
  }
}

function fsync(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function vectorBlob(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export function blobVector(b: Buffer): Float32Array {
  // Copy: the Buffer may be unaligned for a Float32Array view.
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}
