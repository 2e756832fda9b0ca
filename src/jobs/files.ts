/**
 * The job files under the data folder: `uploads/<id>` (the audio as sent), `results/<id>.json` (the
 * transcript) and, while a job runs, `results/<id>.checkpoint.json` (where its transcription stands after its
 * last completed window, so that a run after a crash continues from there). All are written durably: a
 * temporary file is fsync'd, renamed into place, and the folder is fsync'd, so a file that exists after a crash
 * is whole, and an answered upload survives a power cut.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { TranscriptionResult } from '../asr/types.js';
import type { TranscribeCheckpoint } from '../asr/whisper/index.js';
import { MoxingError } from '../errors.js';

/** Where a job's run keeps its last checkpoint. */
export interface CheckpointStore {
  /** The last checkpoint written, or undefined (none, or not readable). */
  read(): Promise<TranscribeCheckpoint | undefined>;
  /** Replaces it, durably (whole or absent after a crash). */
  write(checkpoint: TranscribeCheckpoint): Promise<void>;
}

/** Job ids are `job_` and 128 random bits: nobody can guess another client's job. */
export const JOB_ID = /^job_[A-Za-z0-9_-]{22}$/;

export function newJobId(): string {
  return `job_${randomBytes(16).toString('base64url')}`;
}

export class JobFiles {
  readonly uploads: string;
  readonly results: string;

  constructor(readonly dataDir: string) {
    this.uploads = join(dataDir, 'uploads');
    this.results = join(dataDir, 'results');
    try {
      // Owner-only: uploads, transcripts and webhook secrets are clients' data.
      for (const dir of [dataDir, this.uploads, this.results]) mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new MoxingError('UNAVAILABLE', `cannot create the job data folder ${dataDir}: ${(error as Error).message}; choose another --data-dir`, { cause: error });
    }
  }

  uploadPath(id: string): string {
    return join(this.uploads, checkId(id));
  }

  resultPath(id: string): string {
    return join(this.results, `${checkId(id)}.json`);
  }

  async writeUpload(id: string, audio: Uint8Array): Promise<void> {
    await writeDurably(this.uploadPath(id), audio);
  }

  async writeResult(id: string, result: TranscriptionResult): Promise<void> {
    await writeDurably(this.resultPath(id), JSON.stringify(result));
  }

  async readResult(id: string): Promise<TranscriptionResult> {
    return JSON.parse(await readFile(this.resultPath(id), 'utf8')) as TranscriptionResult;
  }

  checkpointPath(id: string): string {
    return join(this.results, `${checkId(id)}.checkpoint.json`);
  }

  /** The run's checkpoint store of job `id` (runner.ts). */
  checkpoints(id: string): CheckpointStore {
    const path = this.checkpointPath(id);
    return {
      read: async () => {
        try {
          const checkpoint = JSON.parse(await readFile(path, 'utf8')) as TranscribeCheckpoint;
          return checkpoint.version === 1 && Array.isArray(checkpoint.segments) && Array.isArray(checkpoint.tokens) ? checkpoint : undefined;
        } catch {
          return undefined; // none yet (or unreadable): the run starts from the beginning
        }
      },
      write: (checkpoint) => writeDurably(path, JSON.stringify(checkpoint)),
    };
  }

  /** The files a finished job no longer needs: its audio and its checkpoint. */
  async removeUpload(id: string): Promise<void> {
    await Promise.all([rm(this.uploadPath(id), { force: true }), rm(this.checkpointPath(id), { force: true })]);
  }

  /** Removes a job's files (retention, or a submit that failed to commit). */
  async remove(id: string): Promise<void> {
    await Promise.all([rm(this.uploadPath(id), { force: true }), rm(this.resultPath(id), { force: true }), rm(this.checkpointPath(id), { force: true })]);
  }
}

function checkId(id: string): string {
  // Ids come from requests: nothing but a well-formed id reaches a path.
  if (!JOB_ID.test(id)) throw new MoxingError('NOT_FOUND', 'no such job');
  return id;
}

/** Writes `path` so that it is whole or absent after a crash: temp file, fsync, rename, fsync of the folder. */
export async function writeDurably(path: string, content: string | Uint8Array): Promise<void> {
  const dir = join(path, '..');
  const temp = join(dir, `.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const file = await open(temp, 'wx');
    try {
      await file.writeFile(content);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw new MoxingError('OUTPUT_FAILED', `cannot write a job file under ${dir}: ${(error as Error).message}`, { cause: error });
  }
  const folder = await open(dir, 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}
