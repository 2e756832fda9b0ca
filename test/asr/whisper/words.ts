/** Helpers of the word-timestamp tests: the fixture with its timestamped decoder, and the word invariants. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { WhisperModel, type Segment } from '../../../src/asr/index.js';
import { FIXTURE_DIR } from './fidelity.js';

/** The shared tiny random Whisper with a chosen merged decoder (the timestamped one by default), one thread. */
export function loadTimestampedFixture(decoder = 'decoder_model_merged_timestamped.onnx'): Promise<WhisperModel> {
  const onnx = join(FIXTURE_DIR, 'onnx');
  return WhisperModel.fromFiles(
    { dir: FIXTURE_DIR, encoder: join(onnx, 'encoder_model.onnx'), decoder: { kind: 'merged', path: join(onnx, decoder), timestamped: true } },
    { intraOpThreads: 1 },
  );
}

/** Words rebuild the text, and their times run forward inside their segment. */
export function checkWordInvariants(segments: readonly Segment[], where: string): void {
  let last = 0;
  for (const segment of segments) {
    const words = segment.words ?? [];
    assert.equal(words.map((w) => w.word).join(''), segment.text, `${where}: words of segment ${segment.id} rebuild its text`);
    for (const w of words) {
      assert.ok(w.start <= w.end + 1e-9, `${where}: ${JSON.stringify(w)} ends before it starts`);
      assert.ok(w.start >= last - 1e-9, `${where}: ${JSON.stringify(w)} starts before the previous word`);
      assert.ok(w.start >= segment.start - 1e-9 && w.end <= segment.end + 1e-9, `${where}: ${JSON.stringify(w)} outside its segment ${segment.start}-${segment.end}`);
      last = w.start;
    }
  }
}

