/**
 * The pgvector adapter: the VectorIndex interface over a Postgres table with a `vector(dim)` column and an
 * HNSW index (`vector_cosine_ops`), through the `pg` client. It suits indexes that several machines share.
 *
 * Tables: `<table>` (key TEXT PRIMARY KEY, metadata JSONB, embedding vector(dim)) and `<table>_meta` (name,
 * value) holding the dimension and the attributes fixed at creation.
 */
import type { Pool, PoolConfig } from 'pg';
import { MoxingError } from '../errors.js';
import type { OpenIndexOptions, SearchHit, SearchOptions, VectorIndex, VectorRecord } from './types.js';

export interface PgVectorOptions extends Partial<OpenIndexOptions> {
  /** Table name (letters, digits, underscores). @default 'moxing_vectors' */
  table?: string;
  /** hnsw.ef_search for queries (raised to k when smaller). @default 128 */
  efSearch?: number;
}

/** Defaults; `connectTimeoutMs` applies when the caller's pg config sets no connectionTimeoutMillis (pg's own default waits forever). */
export const DEFAULT_PGVECTOR = Object.freeze({ table: 'moxing_vectors', efSearch: 128, connectTimeoutMs: 10_000 });

const TABLE_NAME = /^[a-z_][a-z0-9_]{0,50}$/;
const UPSERT_CHUNK = 500;

type Json = Record<string, unknown>;

function toSql(v: Float32Array): string {
  return `[${Array.from(v).join(',')}]`;
}

function fromSql(text: string): Float32Array {
  return Float32Array.from(text.slice(1, -1).split(','), Number);
}

export class PgVectorIndex implements VectorIndex {
  private closed = false;

  private constructor(
    private readonly pool: Pool,
    private readonly ownsPool: boolean,
    private readonly table: string,
    readonly dim: number,
    private readonly efSearch: number,
  ) {}

  /**
   * Connects (a connection string, a pg PoolConfig, or an existing pg Pool), creates the extension and
   * tables when missing, and checks dim/attributes against an existing table.
   */
  static async open(connection: string | PoolConfig | Pool, options: PgVectorOptions = {}): Promise<PgVectorIndex> {
    const table = options.table ?? DEFAULT_PGVECTOR.table;
    if (!TABLE_NAME.test(table)) throw new MoxingError('BAD_ARGUMENT', `table name "${table}" must be lower-case letters, digits and underscores`);
    const pg = (await import('pg')).default;
    const ownsPool = !(connection instanceof pg.Pool);
    const config: PoolConfig | undefined = connection instanceof pg.Pool ? undefined : typeof connection === 'string' ? { connectionString: connection } : connection;
    const pool = connection instanceof pg.Pool ? connection : new pg.Pool({ connectionTimeoutMillis: DEFAULT_PGVECTOR.connectTimeoutMs, ...config });
    // An idle client whose server went away emits 'error' on the pool, which would end the process (the
    // server's); the next query reports the lost connection as UNAVAILABLE instead.
    if (ownsPool) pool.on('error', () => undefined);
    try {
      const dim = await setUp(pool, table, options);
      return new PgVectorIndex(pool, ownsPool, table, dim, options.efSearch ?? DEFAULT_PGVECTOR.efSearch);
    } catch (error) {
      if (ownsPool) await pool.end().catch(() => undefined);
      if (error instanceof MoxingError) throw error;
      // A database that is down, refuses us or lacks pgvector is a service fault (503), not a bad argument.
      // pg's messages name host and port but never the password; it is cut out anyway, with the URL's userinfo.
      const reason = redactSecrets((error as Error).message, config);
      throw new MoxingError(
        'UNAVAILABLE',
        `pgvector: cannot reach or set up table ${table} (${reason}); check that Postgres runs at that host and port, the credentials, and that the vector extension is installed`,
        { cause: error },
      );
    }
  }

  async count(): Promise<number> {
    const { rows } = await this.reach(() => this.pool.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${this.table}`));
    return Number(rows[0].n);
  }

  async attributes(): Promise<Readonly<Record<string, string>>> {
    const { rows } = await this.reach(() => this.pool.query<{ name: string; value: string }>(`SELECT name, value FROM ${this.table}_meta WHERE name LIKE 'attr.%'`));
    return Object.fromEntries(rows.map((r) => [r.name.slice(5), r.value]));
  }

  async upsert(records: readonly VectorRecord[]): Promise<void> {
    this.assertOpen();
    for (const r of records) {
      if (r.vector.length !== this.dim) throw new MoxingError('BAD_ARGUMENT', `${r.key}: expected a ${this.dim}-d vector, got ${r.vector.length}-d`);
    }
    for (let start = 0; start < records.length; start += UPSERT_CHUNK) {
      const chunk = records.slice(start, start + UPSERT_CHUNK);
      await this.reach(() => this.pool.query(
        `INSERT INTO ${this.table} (key, metadata, embedding)
         SELECT k, m::jsonb, e::vector FROM unnest($1::text[], $2::text[], $3::text[]) AS u(k, m, e)
         ON CONFLICT (key) DO UPDATE SET metadata = excluded.metadata, embedding = excluded.embedding`,
        [chunk.map((r) => r.key), chunk.map((r) => (r.metadata ? JSON.stringify(r.metadata) : null)), chunk.map((r) => toSql(r.vector))],
      ));
    }
  }

  async remove(keys: readonly string[]): Promise<number> {
    this.assertOpen();
    if (keys.length === 0) return 0;
    const result = await this.reach(() => this.pool.query(`DELETE FROM ${this.table} WHERE key = ANY($1::text[])`, [keys]));
    return result.rowCount ?? 0;
  }

  async get(key: string): Promise<VectorRecord | null> {
    const { rows } = await this.reach(() =>
      this.pool.query<{ key: string; metadata: Json | null; embedding: string }>(`SELECT key, metadata, embedding::text AS embedding FROM ${this.table} WHERE key = $1`, [key]),
    );
    return rows.length === 0 ? null : { key: rows[0].key, metadata: rows[0].metadata, vector: fromSql(rows[0].embedding) };
  }

  async list(): Promise<{ key: string; metadata: Readonly<Record<string, unknown>> | null }[]> {
    const { rows } = await this.reach(() => this.pool.query<{ key: string; metadata: Json | null }>(`SELECT key, metadata FROM ${this.table} ORDER BY key COLLATE "C"`));
    return rows;
  }

  async search(vector: Float32Array, k: number, options: SearchOptions = {}): Promise<SearchHit[]> {
    this.assertOpen();
    if (vector.length !== this.dim) throw new MoxingError('BAD_ARGUMENT', `query: expected a ${this.dim}-d vector, got ${vector.length}-d`);
    if (!Number.isInteger(k) || k < 1) throw new MoxingError('BAD_ARGUMENT', `k must be a whole number >= 1, got ${k}`);
    const ef = Math.max(options.ef ?? this.efSearch, k);
    return this.reach(async () => {
      const client = await this.pool.connect();
      // A checked-out client whose server goes away also emits 'error'; unheard, it would end the process.
      const ignore = (): undefined => undefined;
      client.on('error', ignore);
      let broken: Error | undefined;
      try {
        // SET LOCAL keeps the setting to this transaction, so pooled connections are left as they were.
        await client.query('BEGIN');
        await client.query(`SET LOCAL hnsw.ef_search = ${Math.min(ef, 1000)}`);
        const { rows } = await client.query<{ key: string; metadata: Json | null; distance: number }>(
          `SELECT key, metadata, embedding <=> $1::vector AS distance FROM ${this.table} ORDER BY embedding <=> $1::vector LIMIT $2`,
          [toSql(vector), k],
        );
        await client.query('COMMIT');
        return rows.map((r) => ({ key: r.key, metadata: r.metadata, score: 1 - Number(r.distance) }));
      } catch (error) {
        await client.query('ROLLBACK').catch((rollback: Error) => (broken = rollback));
        throw error;
      } finally {
        client.off('error', ignore);
        client.release(broken); // a client that cannot even roll back is closed, not pooled
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsPool) await this.pool.end();
  }

  private assertOpen(): void {
    if (this.closed) throw new MoxingError('BAD_ARGUMENT', `the pgvector index ${this.table} is closed`);
  }

  /** Runs a query; a lost or refused connection is UNAVAILABLE (503), other failures pass through as they are. */
  private async reach<T>(query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (error) {
      if (!isConnectionError(error)) throw error;
      throw new MoxingError('UNAVAILABLE', `pgvector: lost the connection to Postgres for table ${this.table} (${redactSecrets((error as Error).message, undefined)}); check that it runs, then retry`, {
        cause: error,
      });
    }
  }
}

/** Socket errors, SQLSTATE class 08 (connection exception) and 57P0x (the server shutting down or starting). */
function isConnectionError(error: unknown): boolean {
  const code = String((error as { code?: unknown })?.code ?? '');
  return /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EPIPE|08...|57P0[1-3])$/.test(code) || /Connection terminated|timeout exceeded when trying to connect/i.test(String((error as Error)?.message));
}

/** `message` without the connection's password or any `user:password@` of a URL in it. */
function redactSecrets(message: string, config: PoolConfig | undefined): string {
  let out = message.replace(/\/\/[^/@\s]*@/g, '//…@');
  const secrets = [typeof config?.password === 'string' ? config.password : undefined, passwordOf(config?.connectionString)];
  for (const secret of secrets) if (secret) out = out.split(secret).join('…');
  return out;
}

function passwordOf(url: string | undefined): string | undefined {
  try {
    return url ? decodeURIComponent(new URL(url).password) || undefined : undefined;
  } catch {
    return undefined;
  }
}

async function setUp(pool: Pool, table: string, options: PgVectorOptions): Promise<number> {
  await pool.query('CREATE EXTENSION IF NOT EXISTS vector');
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table}_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)`);
  const { rows } = await pool.query<{ value: string }>(`SELECT value FROM ${table}_meta WHERE name = 'dim'`);
  let dim: number;
  if (rows.length === 0) {
    if (!(Number.isInteger(options.dim) && (options.dim as number) > 0)) {
      throw new MoxingError('NOT_FOUND', `no pgvector index in table ${table}; build one first with \`moxing index DIR --index postgres://… --table ${table}\``);
    }
    dim = options.dim as number;
    await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (key TEXT PRIMARY KEY, metadata JSONB, embedding vector(${dim}) NOT NULL)`);
    await pool.query(`CREATE INDEX IF NOT EXISTS ${table}_hnsw ON ${table} USING hnsw (embedding vector_cosine_ops)`);
    const names = ['dim', ...Object.keys(options.attributes ?? {}).map((k) => `attr.${k}`)];
    const values = [String(dim), ...Object.values(options.attributes ?? {})];
    await pool.query(`INSERT INTO ${table}_meta (name, value) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`, [names, values]);
  } else {
    dim = Number(rows[0].value);
    if (options.dim !== undefined && options.dim !== dim) {
      throw new MoxingError('BAD_ARGUMENT', `pgvector table ${table} holds ${dim}-d vectors, not ${options.dim}-d; use another --table or the same model and pooling`);
    }
    const attrs = await pool.query<{ name: string; value: string }>(`SELECT name, value FROM ${table}_meta WHERE name LIKE 'attr.%'`);
    const have = new Map(attrs.rows.map((r) => [r.name.slice(5), r.value]));
    for (const [k, v] of Object.entries(options.attributes ?? {})) {
      if (have.has(k) && have.get(k) !== v) {
        throw new MoxingError('BAD_ARGUMENT', `pgvector table ${table} was built with ${k} "${have.get(k)}", not "${v}"; use the same ${k} or another --table`);
      }
    }
  }
  return dim;
}
