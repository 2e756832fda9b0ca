/**
 * What the vision commands share: the model flags and loading, the index flags, progress bars and the
 * stream results go to. Command files import from here, never from each other.
 */
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { createDownloadProgress, DEFAULT_VARIANT, parseVariant, VARIANTS, type Variant } from '../hub/index.js';
import type { Device, RuntimeOptions } from '../runtime/index.js';
import { DEFAULT_PGVECTOR } from '../vectors/index.js';
import { DEFAULT_EMBED, DEFAULT_VISION_MODEL, POOLINGS, VisionModel, type IndexReport, type IndexProgress, type Pooling } from '../vision/index.js';
import { parseChoice, parseInteger } from './options.js';

/** Where the vision commands print their results (stdout); tests swap `write` to capture them. */
export const output = {
  write(text: string | Uint8Array): void {
    process.stdout.write(text);
  },
};

export interface ModelCliOptions {
  model: string;
  variant: Variant;
  device: Device;
  threads?: number;
}

/** Adds --model, --variant, --device and --threads to a command. */
export function withModelOptions(command: Command, defaultModel: string | null = DEFAULT_VISION_MODEL, modelHelp = ''): Command {
  return command
    .option('-m, --model <model>', `catalogue alias (dinov2-small|base|large|giant[-reg], dino-vits16|vits8|vitb16|vitb8), hub repo id, or a folder${modelHelp}`, defaultModel ?? undefined)
    .option('--variant <variant>', `weights: ${VARIANTS.join(', ')}`, parseVariant, DEFAULT_VARIANT)
    .option('--device <device>', 'cpu or cuda', parseChoice('--device', ['cpu', 'cuda'] as const), 'cpu')
    .option('--threads <n>', 'ONNX Runtime threads (default: MOXING_ORT_THREADS, else all cores)', parseInteger('--threads', 1, 1024));
}

/** The ONNX Runtime options of --device and --threads. */
export function runtimeFromCli(options: Pick<ModelCliOptions, 'device' | 'threads'>): RuntimeOptions {
  return { device: options.device, intraOpThreads: options.threads };
}

/** Loads the model named by the options, with a download progress bar when it has to be fetched. */
export async function loadModelFromCli(options: ModelCliOptions): Promise<VisionModel> {
  const progress = createDownloadProgress();
  try {
    return await VisionModel.load(options.model, { variant: options.variant, runtime: runtimeFromCli(options), hub: { onProgress: progress.onProgress } });
  } finally {
    progress.stop();
  }
}

/** Adds --index and --table to a command. */
export function withIndexOptions(command: Command): Command {
  return command
    .option('--index <path>', 'index folder, or a postgres:// URL for pgvector (default: $MOXING_INDEX or <cache>/indexes/images)')
    .option('--table <name>', 'pgvector table name (with a postgres:// --index)', DEFAULT_PGVECTOR.table);
}

/** A progress bar on stderr (nothing when stderr is not a terminal). */
export function createCountProgress(label: string, stream: NodeJS.WriteStream = process.stderr): { update(done: number, total: number): void; stop(): void } {
  if (!stream.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar({ stream, format: `${label} [{bar}] {value}/{total} | {eta_formatted} left`, hideCursor: true, fps: 10 }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    update(done, total) {
      if (!started) {
        bar.start(total, done);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(done);
      }
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}

export interface IndexCliOptions extends ModelCliOptions {
  index?: string;
  table: string;
  pool: Pooling;
  batchSize: number;
  json?: boolean;
}

/** Adds --index, --table, --pool and --batch-size: the flags of the commands that fill an index. */
export function withIndexingOptions(command: Command): Command {
  return withIndexOptions(command)
    .option('--pool <pool>', `features: ${POOLINGS.join(', ')}`, parseChoice('--pool', POOLINGS), DEFAULT_EMBED.pool)
    .option('--batch-size <n>', 'images per inference call', parseInteger('--batch-size', 1, 1024), DEFAULT_EMBED.batchSize);
}

/** Two bars for indexing (scanning the folder, then embedding); silent with --json. */
export function indexProgress(quiet = false): { onProgress(p: IndexProgress): void; stop(): void } {
  const scan = quiet ? undefined : createCountProgress('scan ');
  const embed = quiet ? undefined : createCountProgress('embed');
  return {
    onProgress: (p) => (p.phase === 'scan' ? scan : embed)?.update(p.done, p.total),
    stop() {
      scan?.stop();
      embed?.stop();
    },
  };
}

export function printIndexReport(dir: string, location: string, report: IndexReport, stream: { write(text: string): unknown } = output): void {
  stream.write(`indexed ${dir} into ${location}: ${report.added} added, ${report.updated} updated, ${report.removed} removed, ${report.unchanged} unchanged, ${report.failed.length} unreadable\n`);
  for (const f of report.failed) stream.write(`  skipped ${f.path}: ${f.message}\n`);
}
