/** `moxing chat` and `moxing generate` in process: one-shot answers equal the library's, the REPL, and bad input. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import sharp from 'sharp';
import { runMoxingInProcess } from '../helpers/cli-inprocess.js';
import { runRepl } from '../../src/cli/chat.js';
import { OnnxChatModel } from '../../src/chat/onnx-chat.js';
import { principledChat } from '../../src/chat/principles.js';
import { ensureLlmModel, TINY_LLM } from '../models/llm.js';
import { ensureVlmModel, TINY_SMOLVLM } from '../models/vlm.js';

describe('moxing chat / generate', () => {
  let dir = '';
  let model: OnnxChatModel;
  const tmp = mkdtempSync(join(tmpdir(), 'moxing-chat-cli-'));
  before(async () => {
    dir = await ensureLlmModel(TINY_LLM);
    model = await OnnxChatModel.load(dir);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test('generate --json prints the tokens and text of the library\'s raw completion', async () => {
    const run = await runMoxingInProcess(['generate', '--model', dir, '--prompt', 'Once upon a time', '--max-tokens', '10', '--temperature', '0', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const printed = JSON.parse(run.stdout);
    const expected = await model.generate('Once upon a time', { temperature: 0, maxTokens: 10 });
    assert.deepEqual(printed.tokens, expected.tokens);
    assert.equal(printed.text, expected.message.content);
    assert.equal(printed.finish_reason, 'length');
  });

  test('chat answers one message with the system prompt, as the library does; streamed text equals --json text', async () => {
    const args = ['chat', 'What is the weather?', '--model', dir, '--system', 'Be brief.', '--max-tokens', '12', '-t', '0.7', '--seed', '3', '--top-k', '40'];
    const json = await runMoxingInProcess([...args, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const expected = await model.chat([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is the weather?' }], { temperature: 0.7, seed: 3, topK: 40, maxTokens: 12 });
    assert.deepEqual(JSON.parse(json.stdout).tokens, expected.tokens);
    const streamed = await runMoxingInProcess(args);
    assert.equal(streamed.code, 0, streamed.stderr);
    assert.equal(streamed.stdout, `${expected.message.content}\n`);
  });

  test('--schema constrains the answer to valid JSON', async () => {
    const schema = join(tmp, 'schema.json');
    writeFileSync(schema, JSON.stringify({ type: 'object', properties: { answer: { type: 'string', maxLength: 6 }, n: { type: 'integer' } } }));
    const run = await runMoxingInProcess(['chat', 'Answer in JSON', '--model', dir, '--schema', schema, '--seed', '1', '--max-tokens', '100', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const value = JSON.parse(JSON.parse(run.stdout).text);
    assert.deepEqual(Object.keys(value), ['answer', 'n']);
    assert.ok(Number.isInteger(value.n));
  });

  test('the REPL keeps the conversation, /reset forgets it, /exit leaves', async () => {
    const input = new PassThrough();
    let printed = '';
    const out = { write: (text: string) => (printed += text) };
    input.end('Hello\nHow are you?\n/reset\nHello\n/exit\nnever read\n');
    const history = await runRepl(model, input, out, { temperature: 0, maxTokens: 6, system: 'Be kind.' });
    assert.deepEqual(history.map((m) => m.role), ['system', 'user', 'assistant']);
    const first = await model.chat([{ role: 'system', content: 'Be kind.' }, { role: 'user', content: 'Hello' }], { temperature: 0, maxTokens: 6 });
    const second = await model.chat([{ role: 'system', content: 'Be kind.' }, { role: 'user', content: 'Hello' }, { role: 'assistant', content: first.message.content }, { role: 'user', content: 'How are you?' }], { temperature: 0, maxTokens: 6 });
    assert.equal(history[2].content, first.message.content, 'after /reset the same first turn gives the same answer');
    assert.ok(printed.includes(`${first.message.content}\n> ${second.message.content}\n> (conversation reset)`), printed);
  });

  test('chat --image --json with a vision-language model prints the library\'s greedy answer about the image', async () => {
    const vlm = await ensureVlmModel(TINY_SMOLVLM);
    const image = join(tmp, 'picture.png');
    const pixels = Buffer.alloc(90 * 60 * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 29 + (i % 7) * 13) % 256;
    writeFileSync(image, await sharp(pixels, { raw: { width: 90, height: 60, channels: 3 } }).png().toBuffer());
    const run = await runMoxingInProcess(['chat', 'What is this?', '--model', vlm, '--image', image, '--max-tokens', '8', '--temperature', '0', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const printed = JSON.parse(run.stdout);
    const library = await OnnxChatModel.load(vlm);
    const url = `data:image/png;base64,${readFileSync(image).toString('base64')}`;
    const expected = await library.chat([{ role: 'user', content: [{ type: 'image_url', image_url: { url } }, { type: 'text', text: 'What is this?' }] }], { temperature: 0, maxTokens: 8 });
    assert.ok(expected.tokens.length > 0);
    assert.deepEqual(printed.tokens, expected.tokens);
    assert.equal(printed.text, expected.message.content);
    const missing = await runMoxingInProcess(['chat', 'hi', '--model', vlm, '--image', join(tmp, 'nope.png')]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /image not found/);
  });

  test('chat --principles --json prints the library\'s principled answer with its draft and critique; a bad file fails in one line', async () => {
    const file = join(tmp, 'principles.txt');
    writeFileSync(file, '1. Be brief.\n2. Stay polite.\n');
    const run = await runMoxingInProcess(['chat', 'What do llamas eat?', '--model', dir, '--principles', file, '--max-tokens', '6', '--temperature', '0', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const printed = JSON.parse(run.stdout);
    const expected = await principledChat(model, [{ role: 'user', content: 'What do llamas eat?' }], ['Be brief.', 'Stay polite.'], { temperature: 0, maxTokens: 6 });
    assert.deepEqual([printed.tokens, printed.text, printed.draft, printed.critique], [expected.tokens, expected.message.content, expected.draft, expected.critique]);
    const streamed = await runMoxingInProcess(['chat', 'What do llamas eat?', '--model', dir, '--principles', file, '--max-tokens', '6', '--temperature', '0']);
    assert.equal(streamed.stdout, `${expected.message.content}\n`, 'only the rewrite is printed');
    const empty = join(tmp, 'empty-principles.txt');
    writeFileSync(empty, '# nothing\n');
    for (const bad of [join(tmp, 'none.txt'), empty]) {
      const failed = await runMoxingInProcess(['chat', 'hi', '--model', dir, '--principles', bad]);
      assert.equal(failed.code, 2, 'a usage error');
      assert.match(failed.stderr, /^moxing: .*(none\.txt: ENOENT|no principle).*\n$/);
      assert.equal(failed.stdout, '');
    }
  });

  test('bad input: unknown model, an image for a text model, a bad flag value, an unreadable schema', async () => {
    const unknown = await runMoxingInProcess(['chat', 'hi', '--model', './no/such/folder']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /no folder exists/);
    const image = await runMoxingInProcess(['chat', 'hi', '--model', dir, '--image', 'cat.png']);
    assert.notEqual(image.code, 0);
    assert.match(image.stderr, /reads text only/);
    const flag = await runMoxingInProcess(['chat', 'hi', '--model', dir, '--top-p', '2']);
    assert.notEqual(flag.code, 0);
    assert.match(flag.stderr, /--top-p must be a number from 0 to 1/);
    const schema = await runMoxingInProcess(['chat', 'hi', '--model', dir, '--schema', join(tmp, 'missing.json')]);
    assert.notEqual(schema.code, 0);
    assert.match(schema.stderr, /--schema/);
    assert.equal(schema.stdout, '');
  });
});
