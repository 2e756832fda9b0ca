/**
 * The whisper.cpp peer row without whisper.cpp: its skip reasons, and the timings it reads from whisper-cli's
 * stderr (the lines of whisper_print_timings, in its printf formats).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseWhisperTimings, whisperCli } from '../../bench/whisper-cpp.js';

const STDERR = `whisper_print_timings:     load time =   123.45 ms
whisper_print_timings:     fallbacks =   0 p /   0 h
whisper_print_timings:      mel time =    40.10 ms
whisper_print_timings:   sample time =   310.00 ms /  4380 runs (     0.07 ms per run)
whisper_print_timings:   encode time = 34100.00 ms /    20 runs (  1705.00 ms per run)
whisper_print_timings:   decode time = 21000.00 ms /  4360 runs (     4.82 ms per run)
whisper_print_timings:   batchd time =   150.00 ms /    60 runs (     2.50 ms per run)
whisper_print_timings:   prompt time =     0.00 ms /     1 runs (     0.00 ms per run)
whisper_print_timings:    total time = 56723.45 ms
`;

test('whisper-cli timings: load and total time, encoder and one-token decoder runs', () => {
  assert.deepEqual(parseWhisperTimings(STDERR), { loadMs: 123.45, totalMs: 56723.45, encodeRuns: 20, decodeRuns: 4360 });
  assert.throws(() => parseWhisperTimings('error: failed to open model\n'), /printed no timings/);
});

test('whisper.cpp row: a one-line skip reason without WHISPER_CPP_DIR or without whisper-cli under it', () => {
  const saved = process.env.WHISPER_CPP_DIR;
  const empty = mkdtempSync(join(tmpdir(), 'moxing-wcpp-'));
  try {
    delete process.env.WHISPER_CPP_DIR;
    assert.match((whisperCli() as { skip: string }).skip, /^whisper\.cpp skipped: WHISPER_CPP_DIR is not set/);
    process.env.WHISPER_CPP_DIR = empty;
    assert.match((whisperCli() as { skip: string }).skip, /^whisper\.cpp skipped: no whisper-cli under WHISPER_CPP_DIR/);
  } finally {
    if (saved === undefined) delete process.env.WHISPER_CPP_DIR;
    else process.env.WHISPER_CPP_DIR = saved;
    rmSync(empty, { recursive: true, force: true });
  }
});
