/** `moxing serve`'s flags and warnings, in-process; the real process's tests are in serve-process.slow.test.ts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serveWarnings } from '../../src/cli/serve.js';
import { resolveSecurityOptions } from '../../src/server/index.js';
import { runMoxingInProcess } from '../helpers/cli-inprocess.js';

test('a public bind without a key, and remote models, are warned about', () => {
  const open = resolveSecurityOptions({ apiKey: undefined }, {});
  assert.equal(serveWarnings('127.0.0.1', open).length, 0);
  assert.match(serveWarnings('0.0.0.0', open)[0], /without an API key/);
  assert.equal(serveWarnings('0.0.0.0', resolveSecurityOptions({ apiKey: 'k' }, {})).length, 0);
  assert.match(serveWarnings('::1', resolveSecurityOptions({ allowRemoteModels: true }, {}))[0], /allow-remote-models/);
  assert.equal(serveWarnings('::1', open, false, { allowPrivate: false }).length, 0);
  assert.match(serveWarnings('::1', open, false, { allowPrivate: true })[0], /--allow-private-remote-images: .*loopback and private/);
});

test('--allow-private-remote-images alone is refused, naming --allow-remote-images', async () => {
  const run = await runMoxingInProcess(['serve', '--port', '0', '--allow-private-remote-images']);
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /--allow-private-remote-images needs --allow-remote-images/);
});

test('--principles with a missing or empty file is refused before the server starts', async () => {
  const missing = await runMoxingInProcess(['serve', '--port', '0', '--principles', 'no-such-principles.txt']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^moxing: cannot read the principles file no-such-principles\.txt: ENOENT\n$/);
  assert.equal(missing.stdout, '');
});

test('serve --help lists every flag, the model pool and batching ones with their library defaults', async () => {
  const run = await runMoxingInProcess(['serve', '--help']);
  assert.equal(run.code, 0);
  const help = run.stdout.replace(/\s+/g, ' ');
  for (const flag of ['--model-ttl <seconds>', '--model-memory <bytes>', '--preload', '--public-metrics', '--no-cross-request-batching', '--max-batch-windows <n>', '--batch-gather-ms <ms>', '--max-concurrent-work <n>', '--shutdown-grace-ms <ms>']) {
    assert.ok(help.includes(flag), `${flag} is not in the help`);
  }
  assert.match(help, /--model-ttl <seconds> .*\(default: 300\)/);
  assert.match(help, /--max-batch-windows <n> .*\(default: 8\)/);
});

test('bad pool and batching values are refused, naming the flag', async () => {
  for (const [args, flag] of [[['--model-ttl', 'soon'], '--model-ttl'], [['--model-memory', 'lots'], '--model-memory'], [['--max-batch-windows', '0'], '--max-batch-windows']] as const) {
    const run = await runMoxingInProcess(['serve', '--port', '0', ...args]);
    assert.notEqual(run.code, 0, args.join(' '));
    assert.ok(run.stderr.includes(flag), run.stderr);
  }
});

test('serve --help lists the realtime socket\'s limits with DEFAULT_REALTIME\'s values; a bad value names its flag', async () => {
  const help = (await runMoxingInProcess(['serve', '--help'])).stdout.replace(/\s+/g, ' ');
  for (const [flag, value] of [['--realtime-max-sessions <n>', 8], ['--realtime-idle-timeout-ms <ms>', 60000], ['--realtime-max-message-bytes <bytes>', 1048576], ['--realtime-max-messages-per-second <n>', 200], ['--realtime-max-queued-seconds <seconds>', 60]] as const) {
    assert.match(help, new RegExp(`${flag} [^-]*\\(default: ${value}\\)`), `${flag} is not in the help with its default`);
  }
  for (const [flag, value] of [['--realtime-max-sessions', '0'], ['--realtime-idle-timeout-ms', 'soon'], ['--realtime-max-message-bytes', '100'], ['--realtime-max-queued-seconds', '1.5']]) {
    const run = await runMoxingInProcess(['serve', flag, value]);
    assert.notEqual(run.code, 0, `${flag} ${value} was accepted`);
    assert.ok(run.stderr.includes(flag), `${flag}: ${run.stderr}`);
  }
});
