import { test } from 'node:test';
import { checkFidelity } from './fidelity.js';

test('single clips, part 1/2: moxing transcribes as openai/whisper does (text, language, segment times)', async () => {
  await checkFidelity('single', { temperature: 0 }, { layout: 'split', part: [0, 2] });
});
