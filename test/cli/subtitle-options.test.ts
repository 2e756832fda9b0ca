/** The srt/vtt layout flags, shared by `moxing transcribe` and `moxing align`. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { register as registerAlign } from '../../src/cli/align.js';
import { register as registerTranscribe } from '../../src/cli/transcribe.js';
import { checkSubtitleOptions, subtitleOptions } from '../../src/cli/subtitle-options.js';
import { assertOneLineError } from '../helpers/cli.js';
import { runMoxingInProcess } from '../helpers/cli-inprocess.js';

const dir = mkdtempSync(join(tmpdir(), 'moxing-subtitle-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const FLAGS = ['--highlight-words', '--max-line-width', '--max-line-count', '--max-words-per-line'];

/** Parses `args` with the command's real option declarations (no action runs: options only). */
function parsed(register: (program: Command) => void, name: string, args: string[]): Record<string, unknown> {
  const program = new Command('moxing');
  register(program);
  const command = program.commands.find((c) => c.name() === name) as Command;
  command.action(() => undefined);
  command.exitOverride();
  program.parse(['node', 'moxing', name, 'a.wav', ...(name === 'align' ? ['t.txt'] : []), ...args]);
  return command.opts();
}

test('transcribe and align declare the same layout flags and map them the same way', () => {
  const args = ['--highlight-words', '--max-line-width', '42', '--max-line-count', '2', '--max-words-per-line', '5'];
  const fromTranscribe = parsed(registerTranscribe, 'transcribe', args);
  const fromAlign = parsed(registerAlign, 'align', args);
  const expected = { highlightWords: true, maxLineWidth: 42, maxLineCount: 2, maxWordsPerLine: 5 };
  assert.deepEqual(subtitleOptions(fromTranscribe), expected);
  assert.deepEqual(subtitleOptions(fromAlign), expected);
  for (const register of [registerTranscribe, registerAlign]) {
    const program = new Command('moxing');
    register(program);
    const flags = program.commands[0].options.map((o) => o.long);
    for (const flag of FLAGS) assert.ok(flags.includes(flag), `${program.commands[0].name()} has ${flag}`);
  }
  // Unset flags leave the writers' defaults alone.
  assert.deepEqual(subtitleOptions(parsed(registerAlign, 'align', [])), { highlightWords: false });
  assert.throws(() => parsed(registerAlign, 'align', ['--max-line-width', '0']), /--max-line-width must be a whole number from 1/);
});

test('the rules between the flags: --max-line-count needs --max-line-width', async () => {
  assert.throws(() => checkSubtitleOptions({ maxLineCount: 2 }), /--max-line-count requires --max-line-width/);
  checkSubtitleOptions({ maxLineCount: 2, maxLineWidth: 30 });
  // align checks it too now, before reading any file.
  const run = await runMoxingInProcess(['align', join(dir, 'a.wav'), join(dir, 't.txt'), '--max-line-count', '2'], { MOXING_OFFLINE: '1', MOXING_CACHE: join(dir, 'cache') });
  assertOneLineError(run, /^moxing: --max-line-count requires --max-line-width/, 2);
});

test('-f takes one format, a comma list or all, for transcribe and align alike', async () => {
  const { parseOutputFormats } = await import('../../src/cli/options.js');
  assert.deepEqual(parseOutputFormats('json,srt'), ['json', 'srt']);
  assert.deepEqual(parseOutputFormats(' vtt , vtt '), ['vtt']);
  assert.deepEqual(parseOutputFormats('all'), ['txt', 'vtt', 'srt', 'tsv', 'json']);
  assert.throws(() => parseOutputFormats('json,docx'), /unknown output format "docx"/);
});
