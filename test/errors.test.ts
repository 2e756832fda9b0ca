import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, MoxingError, isMoxingError } from '../src/errors.js';
import { VERSION } from '../src/version.js';

test('every error code has a description and an HTTP status', () => {
  for (const [code, info] of Object.entries(ERROR_CODES)) {
    assert.ok(info.description.length > 10, `${code} needs a description`);
    assert.ok(info.status >= 400 && info.status < 600, `${code} needs a 4xx/5xx status`);
  }
});

test('every error code is documented in the README', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  for (const code of Object.keys(ERROR_CODES)) assert.ok(readme.includes(`\`${code}\``), `README lacks ${code}`);
});

test('MoxingError carries code, status and cause', () => {
  const cause = new Error('root');
  const error = new MoxingError('MODEL_OFFLINE', 'offline', { cause });
  assert.equal(error.code, 'MODEL_OFFLINE');
  assert.equal(error.status, 503);
  assert.equal(error.cause, cause);
  assert.ok(isMoxingError(error, 'MODEL_OFFLINE'));
  assert.ok(!isMoxingError(error, 'INTERNAL'));
  assert.ok(!isMoxingError(new Error('x')));
});

test('VERSION matches package.json', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  assert.equal(VERSION, pkg.version);
});
