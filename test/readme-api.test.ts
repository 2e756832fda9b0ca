/** The README's library examples import only what the public API (src/index.ts) exports. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as moxing from '../src/index.js';

test('every name the README imports from moxing is exported', () => {
  const readme = readFileSync('README.md', 'utf8');
  const imports = [...readme.matchAll(/import\s*(type\s*)?\{([^}]+)\}\s*from\s*'moxing'/g)];
  assert.ok(imports.length >= 8, 'the README shows the library');
  const missing: string[] = [];
  for (const [, typeOnly, names] of imports) {
    if (typeOnly) continue; // types leave no trace at run time
    for (const raw of names.split(',')) {
      const name = raw.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0];
      if (name !== '' && !raw.trim().startsWith('type ') && !(name in moxing)) missing.push(name);
    }
  }
  assert.deepEqual(missing, []);
});
