/**
 * CLI start-up: commands load their modules only when they run, so `--version`, `--help` and `calc` load no
 * native module (ONNX Runtime, sharp, SQLite, hnswlib). Checked by tracing process.dlopen in a real process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'moxing-startup-'));
const tracer = join(dir, 'trace.mjs');
writeFileSync(
  tracer,
  `const open = process.dlopen; const loaded = [];
process.dlopen = function (module, filename, ...rest) { loaded.push(filename); return open.call(this, module, filename, ...rest); };
process.on('exit', () => process.stderr.write('DLOPEN ' + JSON.stringify(loaded) + '\\n'));`,
);

function nativeModules(args: readonly string[]): { loaded: string[]; status: number | null; stdout: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--import', tracer, 'src/cli/main.ts', ...args], { encoding: 'utf8' });
  const line = run.stderr.split('\n').find((l) => l.startsWith('DLOPEN '));
  assert.ok(line, run.stderr);
  return { loaded: JSON.parse(line.slice(7)), status: run.status, stdout: run.stdout };
}

test('--version, --help and calc load no native module; transcribe loads ONNX Runtime', () => {
  try {
    for (const args of [['--version'], ['--help'], ['calc', 'params', '-m', 'llama-7b'], ['help', 'serve']]) {
      const run = nativeModules(args);
      assert.equal(run.status, 0, args.join(' '));
      assert.deepEqual(run.loaded, [], `moxing ${args.join(' ')} loaded ${run.loaded.join(', ')}`);
    }
    // The tracer does see native modules when a command needs them.
    assert.ok(nativeModules(['transcribe', '--help']).loaded.some((f) => f.includes('onnxruntime')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('after npm install, the package imports by its name (dist/ built by the prepare script)', () => {
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', "import { countParameters, MODEL_PRESETS, transcribe, VERSION } from 'moxing'; console.log(countParameters(MODEL_PRESETS['llama-7b']).parameters, typeof transcribe, VERSION)"], { encoding: 'utf8' });
  assert.equal(run.status, 0, `${run.stderr}\n(run npm run build if dist/ is missing)`);
  assert.match(run.stdout, /^6738415616 function \d+\.\d+\.\d+/);
});
