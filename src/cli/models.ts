/** `moxing models`: the catalogue of aliases and what the cache holds. */
import type { Command } from 'commander';
import { formatBytes } from '../calc/units.js';
import { CATALOG, catalogEntryForRepo, listCachedSnapshots, resolveHubOptions } from '../hub/index.js';

function formatSizes(sizeMb: Readonly<Record<string, number>> | undefined): string {
  if (!sizeMb) return '';
  return Object.entries(sizeMb)
    .map(([variant, mb]) => `${variant} ${mb >= 1000 ? `${(mb / 1000).toFixed(1)}G` : `${mb}M`}`)
    .join(', ');
}

function table(rows: readonly string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ').trimEnd()).join('\n');
}

export function register(program: Command): void {
  program
    .command('models')
    .description('list the model catalogue (aliases, repos, download sizes) and the models in the cache')
    .option('--json', 'print { catalog, cached, cacheDir } as JSON on stdout')
    .action(async (options: { json?: boolean }) => {
      const hub = resolveHubOptions();
      const snapshots = await listCachedSnapshots(hub.cacheDir);
      const cached = snapshots.map((s) => ({
        alias: catalogEntryForRepo(s.repo)?.alias,
        repo: s.repo,
        revision: s.revision,
        dir: s.dir,
        bytes: s.bytes,
        incompleteBytes: s.incompleteBytes,
        files: s.files,
      }));
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ cacheDir: hub.cacheDir, catalog: CATALOG, cached }, null, 2)}\n`);
        return;
      }
      const cachedRepos = new Set(snapshots.map((s) => s.repo.toLowerCase()));
      const rows = [['ALIAS', 'REPO', 'TASK', 'CACHED', 'DOWNLOAD (approx.)', 'DESCRIPTION']];
      for (const e of CATALOG) {
        rows.push([e.alias, e.repo, e.task, cachedRepos.has(e.repo.toLowerCase()) ? 'yes' : '', formatSizes(e.sizeMb), e.description]);
      }
      process.stdout.write(`Catalogue (use an alias, any hub repo id owner/name[@revision], or a local folder):\n${table(rows)}\n\n`);
      if (cached.length === 0) {
        process.stdout.write(`Cache ${hub.cacheDir}: empty. Fetch a model with \`moxing pull whisper-tiny\`.\n`);
        return;
      }
      const total = cached.reduce((s, c) => s + c.bytes, 0);
      process.stdout.write(`Cache ${hub.cacheDir}: ${cached.length} model snapshot(s), ${formatBytes(total)}\n`);
      const cacheRows = [['MODEL', 'REVISION', 'FILES', 'SIZE', 'NOTE']];
      for (const c of cached) {
        const name = c.alias ? `${c.alias} (${c.repo})` : c.repo;
        const note = c.incompleteBytes > 0 ? `${formatBytes(c.incompleteBytes)} partial, \`moxing pull\` resumes it` : '';
        cacheRows.push([name, c.revision, String(c.files.length), formatBytes(c.bytes), note]);
      }
      process.stdout.write(`${table(cacheRows)}\n`);
    });
}
