// Marks when dist/ was built, so bin/moxing.js can tell a current build from a stale one (src/ edited since).
import { mkdirSync, writeFileSync } from 'node:fs';
mkdirSync('dist', { recursive: true });
writeFileSync('dist/.build-stamp', `${new Date().toISOString()}\n`);
