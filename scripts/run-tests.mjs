// `npm test`: every test/**/*.test.ts through node's own test runner, TypeScript loaded by tsx.
// `npm run test:fast` (--fast): the inner-loop tier, without the slow files, which are marked by name: the
// fidelity suites (openai/whisper's outputs on every dev clip), the abuse suites under test/fuzz/, the tests of
// the benchmarks under test/bench/, the end-to-end suites (*.e2e.test.ts: the official openai client against a
// listening server) and any *.slow.test.ts. Node 20's --test takes no globs, so the files are listed here. Other
// args filter by path substring.
//
// Start-up is much of a small file's cost (node, tsx, then ONNX Runtime, sharp, fastify, and each model's sessions
// and tokenizer: a second or two of CPU), so the files share a few processes: they are packed into BUCKETS
// generated entries under .tmp/test-groups/<pid>/, each importing its files in turn, and node:test runs their
// tests one after another, as it runs one file's. The largest entries start first. A file runs in a process of its
// own when it is slow (the tier above: each is long enough to pay its start-up), when it is given alone, or when it
// sets process-wide hooks that would reach the other files (a top-level before/beforeEach/afterEach,
// process.on('unhandledRejection')), or when it registers its tests after a top-level await (another file's test
// is running by then, and node:test makes the late ones its subtests): a file with hooks keeps them inside a
// describe. --isolate runs every file alone.
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';

const SLOW = /fidelity|(^|\/)(fuzz|bench)\/|\.(slow|e2e)\.test\.ts$/;
const PROCESS_WIDE = /^(before|beforeEach|afterEach)\(|process\.on\('unhandledRejection'|^(await |(export )?(const|let) [^=]+= await )/m;
// One folder per run: runs side by side in one checkout must not remove each other's entries.
const GROUPS_DIR = `.tmp/test-groups/${process.pid}`;
// Twice the runner's concurrency: fewer processes start, and the last bucket to start is short enough that the
// two lanes end close together (sizes stand for run times only roughly).
const BUCKETS = 4;

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

/** The files to hand node --test: lone files as they are, the others packed into a few generated entries. */
function entries() {
  if (flags.has('--isolate') || files.length === 1) return files;
  const alone = (f) => SLOW.test(f) || PROCESS_WIDE.test(readFileSync(f, 'utf8'));
  const weight = (f) => statSync(f).size;
  // Greedy packing, largest file first into the lightest bucket: about equal buckets, so that no long entry
  // starts last and runs alone.
  const buckets = Array.from({ length: BUCKETS }, () => ({ members: [], weight: 0 }));
  for (const f of files.filter((f) => !alone(f)).sort((a, b) => weight(b) - weight(a))) {
    const lightest = buckets.reduce((min, b) => (b.weight < min.weight ? b : min));
    lightest.members.push(f);
    lightest.weight += weight(f);
  }
  mkdirSync(GROUPS_DIR, { recursive: true });
  const packed = buckets.filter((b) => b.members.length > 0).map((b, i) => {
    if (b.members.length === 1) return { entry: b.members[0], weight: b.weight };
    const entry = join(GROUPS_DIR, `group-${i}.test.mjs`);
    const members = b.members.sort();
    writeFileSync(entry, `${members.map((f) => `await import(${JSON.stringify(pathToFileURL(resolve(f)).href)});`).join('\n')}\n`);
    return { entry, weight: b.weight };
  });
  return [...files.filter(alone).map((f) => ({ entry: f, weight: weight(f) })), ...packed]
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
