/** `moxing vad` as a user runs it: regions of real speech as JSON or lines, and one-line errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JFK_WAV } from '../audio/fixtures.js';
import { assertOneLineError, runMoxing } from '../helpers/cli.js';
import { runMoxingInProcess } from '../helpers/cli-inprocess.js';

test('moxing vad --json (the real process): the jfk clip (11 s, speech throughout) gives regions in samples and seconds', async () => {
  const run = await runMoxing(['vad', JFK_WAV, '--json']);
  assert.equal(run.code, 0, run.stderr);
  const out = JSON.parse(run.stdout) as { durationS: number; regions: { start: number; end: number; startS: number; endS: number }[] };
  assert.equal(out.durationS, 11);
  assert.ok(out.regions.length >= 1);
  for (const r of out.regions) {
    assert.ok(r.start < r.end && r.end <= 11 * 16000, JSON.stringify(r));
    assert.equal(r.startS, r.start / 16000);
    assert.equal(r.endS, r.end / 16000);
  }
  // Kennedy speaks from about 0.3 s to 10.6 s: the padded regions span that.
  assert.ok(out.regions[0].startS < 0.5 && out.regions.at(-1)!.endS > 10, run.stdout);

  const lines = await runMoxingInProcess(['vad', JFK_WAV, '--min-silence-ms', '100']);
  assert.equal(lines.code, 0, lines.stderr);
  for (const line of lines.stdout.trim().split('\n')) assert.match(line, /^\d+\.\d{3} --> \d+\.\d{3}$/);
  assert.match(lines.stderr, /regions, [\d.]+ s of speech in 11\.0 s/);
});

test('moxing vad rejects a bad option value and a missing file with one line naming it', async () => {
  assertOneLineError(await runMoxingInProcess(['vad', JFK_WAV, '--threshold', '2']), /--threshold must be a number from 0 to 1, got "2"/, 2);
  assertOneLineError(await runMoxingInProcess(['vad', 'no-such-audio.wav']), /no-such-audio\.wav does not exist/, 1);
});
