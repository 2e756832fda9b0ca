// `npm test`: every test/**/*.test.ts through node's own test runner, TypeScript loaded by tsx.
// `npm run test:fast` (--fast): the inner-loop tier, without the slow files, which are marked by name: the
// fidelity suites (openai/whisper's outputs on every dev clip), the abuse suites under test/fuzz/, the tests of
// the benchmarks under test/bench/, the end-to-end suites (*.e2e.test.ts: the official openai client against a
// listening server) and any *.slow.test.ts. Node 20's --test takes no globs, so the files are listed here. Other
// args filter by path substring.
//
// Start-up is much of a small file's cost (node, tsx, then ONNX Runtime, sharp, fastify, and each model's sessions
// and tokenizer: a second or two of CPU), so the files share a few processes: one worker per lane (generated
// entries under .tmp/test-groups/<pid>/), each taking the next file from a shared queue as it finishes one, so
// the lanes end together whatever the files cost. A worker imports each file inside a suite named by its path: the
// file's tests and hooks are that suite's, and touch no other file's (a test's models may stay loaded for the next
// file: releaseSessions also empties the model caches). The queue starts with the
// files that took longest in earlier runs (.tmp/test-durations.json, kept by the workers; a file's size stands
// in for a new one). A file that sets process-wide handlers (process.on('unhandledRejection')) runs in a process
// of its own, as does every file with --isolate or a file given alone.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { spawnSync } from 'node:child_process';

const SLOW = /fidelity|(^|\/)(fuzz|bench)\/|\.(slow|e2e)\.test\.ts$/;
const PROCESS_WIDE = /process\.on\('unhandledRejection'/;
// One folder per run: runs side by side in one checkout must not remove each other's entries.
const GROUPS_DIR = `.tmp/test-groups/${process.pid}`;
const QUEUE_DIR = join(GROUPS_DIR, 'queue');
const TAKEN_DIR = join(GROUPS_DIR, 'taken');
const TIMES_FILE = join(GROUPS_DIR, 'durations.tsv');
const DURATIONS = '.tmp/test-durations.json';
// Files run two at a time: each ONNX Runtime session gets the cores divided between them (unless the caller chose),
// since two files each spreading every operator over all cores mostly wait for each other (test:fast took 98 s
// with all cores per session, 92 s with one, on the 2-core machine).
const CONCURRENCY = 2;
// About how many bytes of test file run for a millisecond, to rank a file no run has timed yet.
const BYTES_PER_MS = 5;

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

function readDurations() {
  try {
    return JSON.parse(readFileSync(DURATIONS, 'utf8'));
  } catch {
    return {};
  }
}

/**
 * A worker: takes queued files (the lowest name first) until none is left. Each file is imported inside a suite
 * named by its path, so that its tests and hooks are the suite's; the suite's last after-hook tells the worker to
 * take the next file.
 */
const WORKER = `import { after, describe } from 'node:test';
import { appendFileSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
const [queue, taken, times] = ${JSON.stringify([QUEUE_DIR, TAKEN_DIR, TIMES_FILE])};
function take() {
  for (const name of readdirSync(queue).sort()) {
    try {
      renameSync(join(queue, name), join(taken, name)); // atomic: of two workers, one gets it
    } catch (error) {
      if (error.code === 'ENOENT') continue;
      throw error;
    }
    return readFileSync(join(taken, name), 'utf8');
  }
  return undefined;
}
for (let file = take(); file !== undefined; file = take()) {
  const started = performance.now();
  await new Promise((done) => describe(file, async () => {
    await import(pathToFileURL(file).href);
    after(done);
  }));
  appendFileSync(times, file + '\\t' + Math.round(performance.now() - started) + '\\n');
}
`;

/** The files to hand node --test: lone files as they are, the others queued for one worker per lane. */
function entries() {
  if (flags.has('--isolate') || files.length === 1) return files;
  const known = readDurations();
  const weight = (f) => known[f] ?? statSync(f).size / BYTES_PER_MS;
  const alone = files.filter((f) => PROCESS_WIDE.test(readFileSync(f, 'utf8')));
  const queued = files.filter((f) => !alone.includes(f)).sort((a, b) => weight(b) - weight(a));
  mkdirSync(QUEUE_DIR, { recursive: true });
  mkdirSync(TAKEN_DIR, { recursive: true });
  queued.forEach((f, i) => writeFileSync(join(QUEUE_DIR, String(i).padStart(5, '0')), f));
  const workers = Array.from({ length: Math.min(CONCURRENCY, queued.length) }, (_, i) => {
    const entry = join(GROUPS_DIR, `worker-${i}.test.mjs`);
    writeFileSync(entry, WORKER);
    return entry;
  });
  // The lone files first: the workers, started after them, share out whatever is left when a lane frees.
  return [...alone.sort((a, b) => weight(b) - weight(a)), ...workers];
}

/** Adds this run's per-file times to the ones kept (a filtered run keeps the others'). */
function keepDurations() {
  if (!existsSync(TIMES_FILE)) return;
  const durations = readDurations();
  for (const line of readFileSync(TIMES_FILE, 'utf8').split('\n').filter(Boolean)) {
    const [file, ms] = line.split('\t');
    durations[file] = Number(ms);
  }
  writeFileSync(`${DURATIONS}.${process.pid}`, `${JSON.stringify(durations, null, 1)}\n`);
  renameSync(`${DURATIONS}.${process.pid}`, DURATIONS);
}

const threads = String(Math.max(1, Math.floor(availableParallelism() / CONCURRENCY)));
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${CONCURRENCY}`, '--test-reporter=spec', ...entries()],
  { stdio: 'inherit', env: { MOXING_ORT_THREADS: threads, ...process.env } },
);
keepDurations();
rmSync(GROUPS_DIR, { recursive: true, force: true });
process.exit(result.status ?? 1);
