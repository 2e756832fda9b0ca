// `npm test`: every test/**/*.test.ts through node's own test runner, TypeScript loaded by tsx.
// `npm run test:fast` (--fast): the inner-loop tier, without the slow files, which are marked by name: the
// fidelity suites (openai/whisper's outputs on every dev clip), the abuse suites under test/fuzz/, and any
// *.slow.test.ts. Node 20's --test takes no globs, so the files are listed here. Other args filter by path
// substring.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const SLOW = /fidelity|(^|\/)fuzz\/|\.slow\.test\.ts$/;

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name.startsWith('.')) return [];
    return statSync(path).isDirectory() ? find(path) : path.endsWith('.test.ts') ? [path] : [];
  });
}

const fast = process.argv.includes('--fast');
const filters = process.argv.slice(2).filter((a) => a !== '--fast');
const files = find('test')
  .filter((f) => !fast || !SLOW.test(f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
