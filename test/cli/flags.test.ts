/** Flags declared from the library's option names: derived names, values spread unchanged, defaults left to the library. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { addFlags, fieldsOf, flagOf } from '../../src/cli/flags.js';
import { DECODING_FLAGS } from '../../src/cli/transcribe.js';
import { DEFAULT_TRANSCRIBE } from '../../src/asr/whisper/index.js';

function parse(args: string[]): Record<string, unknown> {
  const command = addFlags(new Command('t').exitOverride(), DECODING_FLAGS, DEFAULT_TRANSCRIBE);
  command.parse(['node', 't', ...args]);
  return fieldsOf(command, DECODING_FLAGS);
}

test('every transcribe decoding flag is a transcribe() option, named after it', () => {
  for (const flag of DECODING_FLAGS) assert.ok(Object.hasOwn(DEFAULT_TRANSCRIBE, flag.field), `${flag.field} is not in DEFAULT_TRANSCRIBE`);
  assert.equal(flagOf('compressionRatioThreshold'), '--compression-ratio-threshold');
});

test('given flags reach the library under their field names; absent ones are left to its defaults', () => {
  assert.deepEqual(parse([]), {});
  assert.deepEqual(parse(['--beam-size', '5', '-l', 'de', '--no-speech-threshold', '0.3', '--no-condition-on-previous-text', '--word-timestamps', '--clip-timestamps', '1,2']), {
    language: 'de',
    beamSize: 5,
    conditionOnPreviousText: false,
    noSpeechThreshold: 0.3,
    clipTimestamps: '1,2',
    wordTimestamps: true,
  });
  assert.throws(() => parse(['--beam-size', '0']), /--beam-size must be a whole number from 1 to 64/);
});

test('calc flags carry the library names; the earlier short names still work and errors name what was typed', async () => {
  const { runMoxingInProcess } = await import('../helpers/cli-inprocess.js');
  const long = await runMoxingInProcess(['calc', 'train', '-m', 'llama-7b', '--tensor-parallel', '2', '--gpus', '2', '--micro-batch', '4', '--json']);
  const short = await runMoxingInProcess(['calc', 'train', '-m', 'llama-7b', '--tp', '2', '--gpus', '2', '--batch', '4', '--json']);
  assert.equal(long.code, 0, long.stderr);
  assert.equal(long.stdout, short.stdout);
  assert.equal(JSON.parse(long.stdout).tensorParallel, 2);
  const typed = await runMoxingInProcess(['calc', 'infer', '-m', 'llama-7b', '--dtype', 'fp7']);
  assert.match(typed.stderr, /^moxing: --dtype must be one of/);
});
