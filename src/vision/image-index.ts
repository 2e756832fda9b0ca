/**
 * Folders of images into a vector index, incrementally: a file is embedded again only when its size or
 * modification time changed and its content hash differs; files that disappeared are removed. Images are
 * embedded in batches; each batch is written to the index as soon as it is done, so an interrupted run keeps
 * its progress. Unreadable images are reported and skipped, not fatal.
 */
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { MoxingError, isMoxingError } from '../errors.js';
import type { VectorIndex } from '../vectors/index.js';
import { embedPixels, preprocessFor, resolveEmbedOptions, type EmbedOptions } from './features.js';
import { IMAGE_EXTENSIONS, loadImage, readImageFile } from './image.js';
import type { VisionModel } from './model.js';
import type { PixelValues } from './processor.js';

/** What the index stores per image, besides its vector. */
export interface ImageMetadata {
  readonly mtimeMs: number;
  readonly size: number;
  readonly sha256: string;
  readonly width: number;
  readonly height: number;
}

export interface IndexProgress {
  readonly phase: 'scan' | 'embed';
  readonly done: number;
  readonly total: number;
}

export interface IndexImagesOptions extends Partial<Omit<EmbedOptions, 'onProgress'>> {
  onProgress?: (progress: IndexProgress) => void;
}

export interface IndexReport {
  readonly added: number;
  readonly updated: number;
  readonly removed: number;
  readonly unchanged: number;
  /** Images that could not be read, with the reason. */
  readonly failed: readonly { path: string; message: string }[];
  /** Files embedded in this run (absolute paths). */
  readonly embedded: readonly string[];
}

/** Attributes that tie an index to the model and pooling that made its vectors. */
export function indexAttributes(model: VisionModel, pool: string, normalize = true): Record<string, string> {
  return { model: model.info.ref, pool, normalize: String(normalize) };
}

/** Image files under `dir` (recursive, hidden entries skipped), as sorted absolute paths. */
export async function listImages(dir: string): Promise<string[]> {
  const root = resolve(dir);
  let info;
  try {
    info = await stat(root);
  } catch (cause) {
    throw new MoxingError('FILE_NOT_FOUND', `folder not found: ${dir}. Check the path.`, { cause });
  }
  if (!info.isDirectory()) throw new MoxingError('BAD_ARGUMENT', `${dir} is a file, not a folder of images`);
  const out: string[] = [];
  const walk = async (folder: string): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const path = join(folder, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile() && IMAGE_EXTENSIONS.includes(extension(entry.name))) out.push(path);
    }
  };
  await walk(root);
  return out.sort();
}

function extension(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot).toLowerCase();
}

/** Like listImages, but a folder without images is an error that says what was looked for. */
export async function requireImages(dir: string): Promise<string[]> {
  const files = await listImages(dir);
  if (files.length === 0) {
    throw new MoxingError('BAD_ARGUMENT', `no images found in ${dir} (looked for ${IMAGE_EXTENSIONS.join(' ')}, in subfolders too)`);
  }
  return files;
}

interface Pending {
  readonly path: string;
  readonly mtimeMs: number;
  readonly size: number;
  readonly existed: boolean;
}

/** Indexes every image under `dir` into `index`, embedding only new or changed files. */
export async function indexImages(model: VisionModel, dir: string, index: VectorIndex, options: IndexImagesOptions = {}): Promise<IndexReport> {
  const embed = resolveEmbedOptions({ pool: options.pool, normalize: options.normalize, batchSize: options.batchSize });
  const root = resolve(dir);
  const files = await requireImages(root);
  const prefix = root.endsWith(sep) ? root : root + sep;
  const known = new Map((await index.list()).filter((e) => e.key.startsWith(prefix)).map((e) => [e.key, e.metadata as ImageMetadata | null]));

  const pending: Pending[] = [];
  const touched: { path: string; metadata: ImageMetadata }[] = [];
  let unchanged = 0;
  for (const [i, path] of files.entries()) {
    const { mtimeMs, size } = await stat(path);
    const old = known.get(path);
    known.delete(path);
    if (old && old.size === size && old.mtimeMs === mtimeMs) unchanged++;
    else if (old && old.size === size && old.sha256 === (await fileHash(path))) {
      // Same bytes, new timestamp (a copy or a touch): refresh the metadata, keep the vector.
      touched.push({ path, metadata: { ...old, mtimeMs } });
      unchanged++;
    } else pending.push({ path, mtimeMs, size, existed: old !== undefined });
    options.onProgress?.({ phase: 'scan', done: i + 1, total: files.length });
  }
  let removed = await index.remove([...known.keys()]);
  for (const t of touched) {
    const record = await index.get(t.path);
    if (record) await index.upsert([{ key: t.path, vector: record.vector, metadata: { ...t.metadata } }]);
  }

  const failed: { path: string; message: string }[] = [];
  const embedded: string[] = [];
  let added = 0;
  let updated = 0;
  const load = async (item: Pending): Promise<{ item: Pending; pixels: PixelValues; metadata: ImageMetadata } | null> => {
    try {
      const bytes = await readImageFile(item.path);
      const image = await loadImage(bytes);
      const metadata = { mtimeMs: item.mtimeMs, size: item.size, sha256: sha256(bytes), width: image.width, height: image.height };
      return { item, pixels: preprocessFor(model, image), metadata };
    } catch (error) {
      if (!isMoxingError(error)) throw error;
      failed.push({ path: item.path, message: error.message.replace('image buffer', item.path) });
      return null;
    }
  };
  const prepare = (start: number) => Promise.all(pending.slice(start, start + embed.batchSize).map(load));
  let next = pending.length > 0 ? prepare(0) : null;
  for (let start = 0; next; start += embed.batchSize) {
    const batch = await next;
    const loaded = batch.filter((x) => x !== null);
    // A file that became unreadable must not keep its old vector.
    const broken = pending.slice(start, start + embed.batchSize).filter((p, i) => batch[i] === null && p.existed);
    removed += await index.remove(broken.map((p) => p.path));
    next = start + embed.batchSize < pending.length ? prepare(start + embed.batchSize) : null;
    next?.catch(() => undefined);
    if (loaded.length > 0) {
      const vectors = await embedPixels(model, loaded.map((l) => l.pixels), { ...embed, batchSize: loaded.length, onProgress: undefined });
      await index.upsert(loaded.map((l, i) => ({ key: l.item.path, vector: vectors[i], metadata: { ...l.metadata } })));
      for (const l of loaded) {
        embedded.push(l.item.path);
        if (l.item.existed) updated++;
        else added++;
      }
    }
    options.onProgress?.({ phase: 'embed', done: Math.min(start + embed.batchSize, pending.length), total: pending.length });
  }
  return { added, updated, removed, unchanged, failed, embedded };
}

/** The file's sha256, or null when it cannot be read (it is then embedded again, where the failure is reported). */
async function fileHash(path: string): Promise<string | null> {
  try {
    return sha256(await readImageFile(path));
  } catch (error) {
    if (isMoxingError(error)) return null;
    throw error;
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
