/** `moxing pull MODEL`: download everything a model needs into the cache, with a progress bar on stderr. */
import type { Command } from 'commander';
import { formatBytes } from '../calc/units.js';
import { statSync } from 'node:fs';
import { createDownloadProgress, DEFAULT_VARIANT, parseModelRef, parseVariant, pullModel, resolveGguf, splitGgufSelector, VARIANTS, type Variant } from '../hub/index.js';

interface PullCliOptions {
  variant: Variant;
  timestamped?: boolean;
  revision?: string;
  json?: boolean;
  file?: string;
}

export function register(program: Command): void {
  program
    .command('pull')
    .description('download a model (alias, owner/name[@revision]) into the cache so it works offline')
    .argument('<model>', 'catalogue alias (see `moxing models`), hub repo id owner/name[@revision], or a folder to check')
    .option('--variant <variant>', `weights to fetch: ${VARIANTS.join(', ')}`, parseVariant, DEFAULT_VARIANT)
    .option('--timestamped', 'Whisper: fetch the decoder that outputs cross attentions (word timestamps)')
    .option('--revision <rev>', 'branch, tag or commit when the model does not pin one with @')
    .option('--file <selector>', 'a GGUF repo: the file to fetch, by name or quantization (Q4_K_M); owner/name:Q4_K_M says the same')
    .option('--json', 'print the result as JSON on stdout')
    .action(async (model: string, options: PullCliOptions) => {
      const progress = createDownloadProgress();
      try {
        const split = splitGgufSelector(model);
        if (options.file !== undefined || split.selector !== undefined) {
          await pullGguf(split.ref, options.file ?? split.selector, options, progress.onProgress);
          return;
        }
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

/** One GGUF file of a hub repo into the cache (llama.cpp models carry everything in that file). */
async function pullGguf(ref: string, selector: string | undefined, options: PullCliOptions, onProgress: ReturnType<typeof createDownloadProgress>['onProgress']): Promise<void> {
  const path = await resolveGguf(parseModelRef(ref), selector, { onProgress, ...(options.revision ? { revision: options.revision } : {}) });
  const bytes = statSync(path).size;
  if (options.json) process.stdout.write(`${JSON.stringify({ ref, file: path, bytes }, null, 2)}\n`);
  else process.stdout.write(`${ref}: ${path} (${formatBytes(bytes)})\n`);
}
