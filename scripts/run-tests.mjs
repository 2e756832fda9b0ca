// `npm test`: every test/**/*.test.ts through node's own test runner, TypeScript loaded by tsx.
// `npm run test:fast` (--fast): the inner-loop tier, without the slow files, which are marked by name: the
// fidelity suites (openai/whisper's outputs on every dev clip), the abuse suites under test/fuzz/, and any
// *.slow.test.ts. Node 20's --test takes no globs, so the files are listed here. Other args filter by path
// substring.
//
// Start-up is most of a small file's cost (node, tsx, then ONNX Runtime, sharp, fastify: about a second of
// CPU), so the files under one folder of test/ (test/asr/**, test/server/**...) share one process: a generated
// entry under .tmp/test-groups/<pid>/ imports them in turn and node:test runs their tests one after another, as
// it runs one file's. The largest entries start first. A file runs in a process of
// its own when it is slow (the tier above: each is long enough to pay its start-up), when it is given alone, or
// when it sets process-wide hooks that would reach the other files (a top-level before/beforeEach/afterEach,
// process.on('unhandledRejection')), or when it registers its tests after a top-level await (another file's test
// is running by then, and node:test makes the late ones its subtests). --isolate runs every file alone, as before.
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';

const SLOW = /fidelity|(^|\/)fuzz\/|\.slow\.test\.ts$/;
const PROCESS_WIDE = /^(before|beforeEach|afterEach)\(|process\.on\('unhandledRejection'|^(await |(export )?(const|let) [^=]+= await )/m;
// One folder per run: runs side by side in one checkout must not remove each other's entries.
const GROUPS_DIR = `.tmp/test-groups/${process.pid}`;

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name.startsWith('.')) return [];
    return statSync(path).isDirectory() ? find(path) : path.endsWith('.test.ts') ? [path] : [];
  });
}

const flags = new Set(process.argv.slice(2).filter((a) => a.startsWith('--')));
const filters = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const files = find('test')
  .filter((f) => !flags.has('--fast') || !SLOW.test(f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}

/** The files to hand node --test: lone files as they are, the others as one generated entry per folder. */
function entries() {
  if (flags.has('--isolate') || files.length === 1) return files;
  const alone = (f) => SLOW.test(f) || PROCESS_WIDE.test(readFileSync(f, 'utf8'));
  const folders = new Map();
  for (const f of files.filter((f) => !alone(f))) {
    const folder = f.slice(0, f.lastIndexOf('/')).split('/').slice(0, 2).join('/');
    folders.set(folder, [...(folders.get(folder) ?? []), f]);
  }
  mkdirSync(GROUPS_DIR, { recursive: true });
  const grouped = [...folders].map(([folder, members]) => {
    if (members.length === 1) return { entry: members[0], members };
    const entry = join(GROUPS_DIR, `${folder.replaceAll('/', '_')}.test.mjs`);
    writeFileSync(entry, `${members.map((f) => `await import(${JSON.stringify(pathToFileURL(resolve(f)).href)});`).join('\n')}\n`);
    return { entry, members };
  });
  // The largest first (source size stands for run time), so that no long entry starts last and runs alone.
  const weight = (members) => members.reduce((sum, f) => sum + statSync(f).size, 0);
  return [...files.filter(alone).map((f) => ({ entry: f, members: [f] })), ...grouped]
    .map((e) => ({ ...e, weight: weight(e.members) }))
    .sort((a, b) => b.weight - a.weight)
    .map((e) => e.entry);
}

const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...entries()],
  { stdio: 'inherit' },
);
rmSync(GROUPS_DIR, { recursive: true, force: true });
process.exit(result.status ?? 1);
