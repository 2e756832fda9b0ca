/**
 * `moxing serve` as a process: it stops on SIGTERM within its grace period even while a client trickles bytes,
 * and its realtime flags reach the socket. Slow tier: each test starts the real bin.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { SERVING_ON, startMoxing } from '../helpers/cli.js';
import { RealtimeClient } from '../server/realtime-client.js';
import { scratchDir } from '../helpers/scratch.js';

const scratch = (): string => scratchDir('moxing-serve-');

test('SIGTERM ends the server after the grace period, although a slow sender holds a connection', async () => {
  // The job store goes to a throwaway folder, not the user's data folder.
  const { child, line } = await startMoxing(['serve', '--port', '0', '--no-log', '--shutdown-grace-ms', '300', '--request-timeout-ms', '600000'], SERVING_ON, { MOXING_DATA: scratch() });
  const url = new URL(line);
  const socket = connect(Number(url.port), url.hostname);
  socket.on('error', () => undefined);
  await new Promise((r) => socket.once('connect', r));
  socket.write('POST /v1/calc/params HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
  const trickle = setInterval(() => socket.write(' '), 100);
  await new Promise((r) => setTimeout(r, 300));
  const stopped = Date.now();
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearInterval(trickle);
  socket.destroy();
  assert.equal(code, 0);
  assert.ok(Date.now() - stopped < 3000, `stopped after ${Date.now() - stopped} ms`);
});

test('the realtime flags reach the socket: a second session past --realtime-max-sessions is refused, an idle one closed, a big message cut', async () => {
  const { child, line } = await startMoxing(['serve', '--port', '0', '--no-log', '--realtime-max-sessions', '2', '--realtime-idle-timeout-ms', '1000', '--realtime-max-message-bytes', '4KiB'], SERVING_ON, { MOXING_DATA: scratch() });
  try {
    const url = new URL(line);
    const socketUrl = `ws://${url.host}/v1/realtime?intent=transcription`;
    const idle = await RealtimeClient.open(socketUrl);
    const big = await RealtimeClient.open(socketUrl);
    const third = await RealtimeClient.open(socketUrl).catch((e: { status?: number }) => e);
    assert.equal((third as { status?: number }).status, 429, 'the third session is over --realtime-max-sessions 2');
    big.send({ type: 'input_audio_buffer.append', audio: 'A'.repeat(8 * 1024) });
    assert.equal((await big.closed).code, 1009, 'a message over 4 KiB closes the session');
    const started = Date.now();
    assert.equal((await idle.closed).code, 1000);
    assert.ok(idle.events.some((e) => e.type === 'error' && (e.error as { code: string }).code === 'idle_timeout'));
    assert.ok(Date.now() - started < 5000, 'closed after about 1 s idle, not the default 60 s');
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.on('exit', resolve));
  }
});
