/**
 * A vector store that cannot be reached is UNAVAILABLE (503; exit 1 in the CLI), never BAD_ARGUMENT (400;
 * exit 2), and its message never shows the URL's password. The CLI side is in unavailable-cli.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openVectorIndex, PgVectorIndex } from '../../src/vectors/index.js';

/** Port 1 on loopback: nothing listens, the connection is refused at once. */
const URL_WITH_PASSWORD = 'postgres://moxing:S3cretPassw0rd@127.0.0.1:1/x';

test('an unreachable Postgres is UNAVAILABLE (503), without the password', async () => {
  const opens = [
    () => openVectorIndex(URL_WITH_PASSWORD, { dim: 4 }),
    () => PgVectorIndex.open({ host: '127.0.0.1', port: 1, user: 'moxing', password: 'S3cretPassw0rd' }, { dim: 4 }),
  ];
  for (const open of opens) {
    await assert.rejects(open(), (error: { code: string; status: number; message: string }) => {
      assert.equal(error.code, 'UNAVAILABLE');
      assert.equal(error.status, 503);
      assert.match(error.message, /cannot reach .*ECONNREFUSED/);
      assert.ok(!error.message.includes('S3cretPassw0rd'), error.message);
      return true;
    });
  }
});
