import { test } from 'node:test';
import { checkFidelity } from './fidelity.js';

test('long clips: moxing transcribes as openai/whisper does (text, language, segment times)', async () => {
  await checkFidelity('long', { temperature: 0 }, { layout: 'merged' });
});
