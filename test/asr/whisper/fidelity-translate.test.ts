import { test } from 'node:test';
import { checkFidelity } from './fidelity.js';

test('translate clips: moxing transcribes as openai/whisper does (text, language, segment times)', async () => {
  await checkFidelity('translate', { temperature: 0, task: 'translate', language: 'es' }, { layout: 'merged' });
});
