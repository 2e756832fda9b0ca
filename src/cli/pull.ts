/** `moxing pull MODEL`: download everything a model needs into the cache, with a progress bar on stderr. */
import type { Command } from 'commander';
import { formatBytes } from '../calc/units.js';
import { createDownloadProgress, DEFAULT_VARIANT, parseVariant, pullModel, VARIANTS, type Variant } from '../hub/index.js';

interface PullCliOptions {
  variant: Variant;
  timestamped?: boolean;
  revision?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('pull')
    .description('download a model (alias, owner/name[@revision]) into the cache so it works offline')
    .argument('<model>', 'catalogue alias (see `moxing models`), hub repo id owner/name[@revision], or a folder to check')
    .option('--variant <variant>', `weights to fetch: ${VARIANTS.join(', ')}`, parseVariant, DEFAULT_VARIANT)
    .option('--timestamped', 'Whisper: fetch the decoder that outputs cross attentions (word timestamps)')
    .option('--revision <rev>', 'branch, tag or commit when the model does not pin one with @')
    .option('--json', 'print the result as JSON on stdout')
    .action(async (model: string, options: PullCliOptions) => {
      const progress = createDownloadProgress();
      try {
        const pulled = await pullModel(model, {
          variant: options.variant,
          timestamped: options.timestamped ?? false,
          ...(options.revision ? { revision: options.revision } : {}),
          onProgress: progress.onProgress,
        });
        progress.stop();
        if (options.json) {
          process.stdout.write(`${JSON.stringify(pulled, null, 2)}\n`);
          return;
        }
        const total = pulled.files.reduce((sum, f) => sum + f.bytes, 0);
        const source = pulled.repo ? `${pulled.repo}@${pulled.revision}` : pulled.dir;
        process.stdout.write(`${model} (${source}, ${pulled.task}, ${pulled.variant}): ${pulled.files.length} files, ${formatBytes(total)} in ${pulled.dir}\n`);
        for (const f of pulled.files) process.stdout.write(`  ${f.path}  ${formatBytes(f.bytes)}\n`);
      } finally {
        progress.stop();
      }
    });
}
