import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LANGUAGES, loadWhisperTokenizer, type WhisperTokenizer } from '../../src/text/index.js';
import { isMoxingError } from '../../src/errors.js';

const SHARED = new URL('../../../shared/', import.meta.url);
const TOKENIZER_DIR = new URL('whisper/tokenizer/', SHARED).pathname;
const reference = JSON.parse(readFileSync(new URL('whisper/tokenizer-reference.json', SHARED), 'utf8')) as {
  items: { text: string; ids: number[] }[];
};
const generationConfig = JSON.parse(readFileSync(join(TOKENIZER_DIR, 'generation_config.json'), 'utf8')) as {
  lang_to_id: Record<string, number>;
  suppress_tokens: number[];
};

let cached: Promise<WhisperTokenizer> | undefined;
const tokenizer = (): Promise<WhisperTokenizer> => (cached ??= loadWhisperTokenizer(TOKENIZER_DIR));

test('encode gives exactly openai/whisper (tiktoken) ids for every reference string', async () => {
  const tok = await tokenizer();
  assert.equal(reference.items.length, 15);
  for (const { text, ids } of reference.items) assert.deepEqual(tok.encode(text), ids, JSON.stringify(text));
});

test('decode inverts encode, including characters split across tokens', async () => {
  const tok = await tokenizer();
  for (const { text, ids } of reference.items) assert.equal(tok.decode(ids), text);
  // "，" is three byte tokens in the reference: alone the first is not valid UTF-8.
  assert.equal(tok.decode([171]), '\ufffd');
  assert.equal(tok.decode([171, 120, 234]), '，');
});

test('special token ids of the multilingual vocabulary come from the files', async () => {
  const tok = await tokenizer();
  const ids = {
    eot: tok.eot, sot: tok.sot, translate: tok.translate, transcribe: tok.transcribe, sotLm: tok.sotLm, sotPrev: tok.sotPrev,
    noSpeech: tok.noSpeech, noTimestamps: tok.noTimestamps, timestampBegin: tok.timestampBegin, vocabSize: tok.vocabSize,
  };
  assert.deepEqual(ids, {
    eot: 50257, sot: 50258, translate: 50358, transcribe: 50359, sotLm: 50360, sotPrev: 50361,
    noSpeech: 50362, noTimestamps: 50363, timestampBegin: 50364, vocabSize: 51865,
  });
  assert.equal(tok.isMultilingual, true);
  // openai: the first 99 LANGUAGES in order, at sot + 1 + index.
  assert.deepEqual(tok.languageTokens.map((l) => l.code), Object.keys(LANGUAGES).slice(0, 99));
  tok.languageTokens.forEach((l, i) => {
    assert.equal(l.id, tok.sot + 1 + i);
    assert.equal(generationConfig.lang_to_id[`<|${l.code}|>`], l.id);
    assert.equal(tok.languageCode(l.id), l.code);
  });
  assert.equal(tok.languageToken('en'), 50259);
  assert.equal(tok.languageToken('Castilian'), 50262);
  assert.equal(tok.languageCode(tok.sot), undefined);
  assert.throws(() => tok.languageToken('yue'), (e) => isMoxingError(e, 'BAD_ARGUMENT') && /yue/.test(e.message));
  assert.throws(() => tok.languageToken('klingon'), (e) => isMoxingError(e, 'BAD_ARGUMENT'));
  assert.deepEqual(tok.sotSequence(), [50258, 50259, 50359]);
  assert.deepEqual(tok.sotSequence('es', 'translate'), [50258, 50262, 50358]);
  assert.deepEqual(tok.sotSequenceIncludingNoTimestamps('de'), [50258, 50261, 50359, 50363]);
});

test('decodeWithTimestamps annotates timestamps as openai does; decode drops every special token', async () => {
  const tok = await tokenizer();
  const ids = [tok.sot, 50259, tok.transcribe, tok.timestampBegin, 2425, 1002, 13, tok.timestampBegin + 54, tok.vocabSize - 1, tok.eot];
  assert.equal(tok.decodeWithTimestamps(ids), '<|startoftranscript|><|en|><|transcribe|><|0.00|> Hello world.<|1.08|><|30.00|><|endoftext|>');
  assert.equal(tok.decode(ids), ' Hello world.');
  assert.equal(tok.timestampSeconds(tok.timestampBegin + 54), 54 * 0.02);
  assert.equal(tok.decodeWithTimestamps([tok.timestampBegin + 1499]), '<|29.98|>');
  assert.throws(() => tok.decodeWithTimestamps([tok.vocabSize]), (e) => isMoxingError(e, 'BAD_ARGUMENT'));
});

test('nonSpeechTokens follows openai non_speech_tokens', async () => {
  const tok = await tokenizer();
  const ns = tok.nonSpeechTokens();
  assert.deepEqual([...ns], [...new Set(ns)].sort((a, b) => a - b));
  for (const s of [' -', " '", '♪', ' ♪', '(', ' (', '[', '♪♪♪', '「']) assert.ok(ns.includes(tok.encode(s)[0]), s);
  // Punctuation between words is kept: , . ? ! and the plain '-' and "'" tokens.
  for (const s of [',', '.', '?', '!', '-', "'"]) assert.ok(!ns.includes(tok.encode(s)[0]), s);
  // The real export's generation_config suppress_tokens is openai's list plus special tokens.
  assert.deepEqual([...ns], generationConfig.suppress_tokens.filter((t) => t < tok.eot));
});

test('splitToWordTokens: spaces and punctuation, or unicode boundaries for zh/ja/th/lo/my/yue', async () => {
  const tok = await tokenizer();
  const english = tok.encode(" Don't stop, please.");
  const split = tok.splitToWordTokens([...english, tok.eot], 'en');
  assert.deepEqual(split.words, [' Don\'t', ' stop', ',', ' please', '.', '<|endoftext|>']);
  assert.deepEqual(split.wordTokens.flat(), [...english, tok.eot]);
  const chineseText = reference.items[4].text;
  const chinese = tok.splitToWordTokens(reference.items[4].ids, 'zh');
  assert.equal(chinese.words.join(''), chineseText);
  assert.ok(chinese.words.every((w) => !w.includes('\ufffd')));
  assert.deepEqual(chinese.wordTokens.flat(), reference.items[4].ids);
  // The three byte tokens of "，" stay together.
  assert.ok(chinese.wordTokens.some((w) => w.join() === '171,120,234'));
});

test('an English-only (.en) layout shifts every special id, with no language tokens', async () => {
  // Build whisper-tiny.en's layout from the multilingual files: GPT-2's vocabulary has 50256 text tokens,
  // so every special token sits one lower, and generation_config says so.
  const dir = mkdtempSync(join(tmpdir(), 'moxing-tok-en-'));
  try {
    const tj = JSON.parse(readFileSync(join(TOKENIZER_DIR, 'tokenizer.json'), 'utf8'));
    delete tj.model.vocab[''];
    tj.model.vocab['<|endoftext|>'] = 50256;
    for (const t of tj.added_tokens) t.id -= 1;
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tj));
    const added = JSON.parse(readFileSync(join(TOKENIZER_DIR, 'added_tokens.json'), 'utf8')) as Record<string, number>;
    writeFileSync(join(dir, 'added_tokens.json'), JSON.stringify(Object.fromEntries(Object.entries(added).map(([k, v]) => [k, v - 1]))));
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({
      begin_suppress_tokens: [220, 50256], bos_token_id: 50257, decoder_start_token_id: 50257, eos_token_id: 50256,
      forced_decoder_ids: [[1, 50362]], is_multilingual: false, max_initial_timestamp_index: 50, max_length: 448,
      no_timestamps_token_id: 50362, pad_token_id: 50256, prev_sot_token_id: 50360, return_timestamps: false,
    }));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'whisper', vocab_size: 51864 }));
    const tok = await loadWhisperTokenizer(dir);
    assert.deepEqual(
      [tok.eot, tok.sot, tok.translate, tok.transcribe, tok.sotLm, tok.sotPrev, tok.noSpeech, tok.noTimestamps, tok.timestampBegin, tok.vocabSize],
      [50256, 50257, 50357, 50358, 50359, 50360, 50361, 50362, 50363, 51864],
    );
    assert.equal(tok.isMultilingual, false);
    assert.deepEqual(tok.languageTokens, []);
    assert.deepEqual(tok.sotSequence('en', 'translate'), [50257]);
    assert.deepEqual(tok.sotSequenceIncludingNoTimestamps(), [50257, 50362]);
    assert.throws(() => tok.languageToken('en'), (e) => isMoxingError(e, 'BAD_ARGUMENT') && /English-only/.test(e.message));
    assert.equal(tok.decodeWithTimestamps([50257, 50362, 50363, 51863]), '<|startoftranscript|><|notimestamps|><|0.00|><|30.00|>');
    assert.deepEqual(tok.encode(' Hello world.'), [2425, 1002, 13]);
    assert.equal(tok.decode([2425, 1002, 13, 50256, 50363]), ' Hello world.');
    assert.ok(!tok.nonSpeechTokens().includes(50256));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a large-v3 layout adds <|yue|> as the 100th language and names <|nospeech|>', async () => {
  // large-v3 inserts <|yue|> after <|su|>: every later special id moves up by one.
  const dir = mkdtempSync(join(tmpdir(), 'moxing-tok-v3-'));
  try {
    const shift = (id: number): number => (id >= 50358 ? id + 1 : id);
    const rename = (content: string): string => (content === '<|nocaptions|>' ? '<|nospeech|>' : content);
    const tj = JSON.parse(readFileSync(join(TOKENIZER_DIR, 'tokenizer.json'), 'utf8'));
    tj.added_tokens = tj.added_tokens.map((t: { id: number; content: string }) => ({ ...t, id: shift(t.id), content: rename(t.content) }));
    tj.added_tokens.push({ id: 50358, content: '<|yue|>', special: true });
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tj));
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ is_multilingual: true, no_timestamps_token_id: 50364, decoder_start_token_id: 50258, eos_token_id: 50257 }));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'whisper', vocab_size: 51866, num_mel_bins: 128 }));
    const tok = await loadWhisperTokenizer(dir);
    assert.equal(tok.languageTokens.length, 100);
    assert.deepEqual(tok.languageTokens.at(-1), { code: 'yue', id: 50358 });
    assert.deepEqual([tok.translate, tok.transcribe, tok.sotLm, tok.sotPrev, tok.noSpeech, tok.noTimestamps, tok.timestampBegin], [50359, 50360, 50361, 50362, 50363, 50364, 50365]);
    assert.deepEqual(tok.sotSequence('cantonese', 'transcribe'), [50258, 50358, 50360]);
    assert.equal(tok.decodeWithTimestamps([50365 + 1500]), '<|30.00|>');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('missing or malformed tokenizer files fail with TOKENIZER_INVALID naming the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxing-tok-bad-'));
  try {
    await assert.rejects(loadWhisperTokenizer(dir), (e) => isMoxingError(e, 'TOKENIZER_INVALID') && e.message.includes(dir));
    writeFileSync(join(dir, 'tokenizer.json'), '{ not json');
    await assert.rejects(loadWhisperTokenizer(dir), (e) => isMoxingError(e, 'TOKENIZER_INVALID') && /tokenizer\.json/.test(e.message));
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ model: { vocab: { a: 0 } }, added_tokens: [] }));
    await assert.rejects(loadWhisperTokenizer(dir), (e) => isMoxingError(e, 'TOKENIZER_INVALID') && /endoftext/.test(e.message));
    // Every special token present, but the vocabulary lacks most single bytes: encoding such a byte names it.
    const specials = ['<|endoftext|>', '<|startoftranscript|>', '<|translate|>', '<|transcribe|>', '<|startoflm|>', '<|startofprev|>', '<|nocaptions|>', '<|notimestamps|>'];
    const addedTokens = specials.map((content, i) => ({ id: 1 + i, content, special: true }));
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ model: { vocab: { a: 0 } }, added_tokens: addedTokens }));
    const partial = await loadWhisperTokenizer(dir);
    assert.deepEqual(partial.encode('a'), [0]);
    assert.throws(() => partial.encode('ab'), (e) => isMoxingError(e, 'TOKENIZER_INVALID') && /"b"/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a folder loaded again gives the same tokenizer until one of its files changes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxing-tok-again-'));
  try {
    for (const name of ['tokenizer.json', 'generation_config.json', 'config.json']) writeFileSync(join(dir, name), readFileSync(join(TOKENIZER_DIR, name)));
    const first = await loadWhisperTokenizer(dir);
    assert.equal(await loadWhisperTokenizer(join(dir, '.')), first, 'another spelling of the same folder');
    assert.notEqual(await tokenizer(), first, 'another folder');
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { vocab_size: number };
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, vocab_size: config.vocab_size + 1 }));
    const changed = await loadWhisperTokenizer(dir);
    assert.notEqual(changed, first);
    assert.equal(changed.vocabSize, first.vocabSize + 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
