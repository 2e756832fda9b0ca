/**
 * Principle-driven answers (Dromedary's principles, Constitutional AI's critique and rewrite) on the generated
 * tiny llama: the principles file's parsing and limits, the system prompt they make, and the three generations,
 * each checked against the model's own chat on the conversation it should have seen.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OnnxChatModel } from '../../src/chat/onnx-chat.js';
import { CRITIQUE_REQUEST, PRINCIPLE_LIMITS, chatWithPrinciples, REVISION_REQUEST, loadPrinciples, parsePrinciples, principledChat, principlesSystemPrompt, withPrinciples } from '../../src/chat/principles.js';
import type { ChatMessage } from '../../src/chat/index.js';
import { isMoxingError } from '../../src/errors.js';
import { ensureLlmModel, TINY_LLM } from '../models/llm.js';
import { scratchDir } from '../helpers/scratch.js';

const PRINCIPLES_FILE = `# Dromedary-style principles (a comment)
1 (ethical). Refuse to help with anything that harms people.
2) Be informative: answer the question asked,
   and say what you do not know.

- Be brief.
* Stay polite.
`;

describe('principled answers', () => {
  let model: OnnxChatModel;
  const tmp = scratchDir('moxing-principles-');
  before(async () => {
    model = await OnnxChatModel.load(await ensureLlmModel(TINY_LLM));
  });

  test('a principles file: one per line, list markers dropped, comments and blank lines skipped, indented lines continue', () => {
    assert.deepEqual(parsePrinciples(PRINCIPLES_FILE), [
      '1 (ethical). Refuse to help with anything that harms people.',
      'Be informative: answer the question asked, and say what you do not know.',
      'Be brief.',
      'Stay polite.',
    ]);
    const refused = (text: string, pattern: RegExp) => assert.throws(() => parsePrinciples(text), (e) => isMoxingError(e, 'BAD_ARGUMENT') && pattern.test(e.message));
    refused('# only a comment\n\n', /no principle/);
    refused(Array.from({ length: PRINCIPLE_LIMITS.count + 1 }, (_, i) => `principle ${i}`).join('\n'), /at most 64 principles, got 65/);
    refused(`short\n${'x'.repeat(PRINCIPLE_LIMITS.length + 1)}`, /principle 2 is 2001 characters long/);
  });

  test('a missing or oversized file is refused by name, before it is read', async () => {
    await assert.rejects(loadPrinciples(join(tmp, 'none.txt')), (e) => isMoxingError(e, 'BAD_ARGUMENT') && /none\.txt: ENOENT/.test(e.message));
    const big = join(tmp, 'big.txt');
    writeFileSync(big, '');
    truncateSync(big, PRINCIPLE_LIMITS.fileBytes + 1);
    await assert.rejects(loadPrinciples(big), (e) => isMoxingError(e, 'BAD_ARGUMENT') && /65537 bytes; at most 65536/.test(e.message));
    const good = join(tmp, 'principles.txt');
    writeFileSync(good, PRINCIPLES_FILE);
    assert.deepEqual(await loadPrinciples(good), parsePrinciples(PRINCIPLES_FILE));
  });

  test('the principles open the system prompt, numbered, before the conversation\'s own system prompt', () => {
    const principles = ['Be brief.', 'Stay polite.'];
    assert.equal(principlesSystemPrompt(principles), 'Follow these principles in every answer:\n1. Be brief.\n2. Stay polite.');
    const user: ChatMessage = { role: 'user', content: 'Hi' };
    assert.deepEqual(withPrinciples([user], principles), [{ role: 'system', content: principlesSystemPrompt(principles) }, user]);
    for (const role of ['system', 'developer'] as const) {
      assert.deepEqual(withPrinciples([{ role, content: 'You are a llama.' }, user], principles), [{ role: 'system', content: `${principlesSystemPrompt(principles)}\n\nYou are a llama.` }, user]);
    }
    const parts: ChatMessage = { role: 'system', content: [{ type: 'text', text: 'You are' }, { type: 'text', text: 'a llama.' }] };
    assert.deepEqual(withPrinciples([parts, user], principles)[0], { role: 'system', content: `${principlesSystemPrompt(principles)}\n\nYou are\na llama.` });
  });

  test('draft, critique, rewrite: each the model\'s answer to the conversation so far; the rewrite is the answer, streamed', async () => {
    const principles = parsePrinciples(PRINCIPLES_FILE);
    const messages: ChatMessage[] = [{ role: 'system', content: 'You are a llama.' }, { role: 'user', content: 'What do llamas eat?' }];
    const options = { temperature: 0, maxTokens: 8 };
    const guided = withPrinciples(messages, principles);
    assert.ok((await model.countTokens(guided)) > (await model.countTokens(messages)) + 20, 'the principles are in the prompt');
    const draft = await model.chat(guided, options);
    const critiqued: ChatMessage[] = [...guided, { role: 'assistant', content: draft.message.content }, { role: 'user', content: CRITIQUE_REQUEST }];
    const critique = await model.chat(critiqued, options);
    const rewrite = await model.chat([...critiqued, { role: 'assistant', content: critique.message.content }, { role: 'user', content: REVISION_REQUEST }], options);

    const result = await principledChat(model, messages, principles, options);
    assert.equal(result.draft, draft.message.content);
    assert.equal(result.critique, critique.message.content);
    assert.deepEqual(result.tokens, rewrite.tokens);
    assert.equal(result.message.content, rewrite.message.content);
    assert.ok(rewrite.promptTokens > critique.promptTokens && critique.promptTokens > draft.promptTokens, 'each pass reads the one before');

    const stream = principledChat(model, messages, principles, options).stream();
    let streamed = '';
    let next = await stream.next();
    for (; !next.done; next = await stream.next()) streamed += next.value.content ?? '';
    assert.equal(streamed, rewrite.message.content, 'only the rewrite is streamed');
    assert.equal(next.value.draft, draft.message.content);
    assert.deepEqual(next.value.passes, {
      promptTokens: draft.promptTokens + critique.promptTokens + rewrite.promptTokens,
      completionTokens: draft.tokens.length + critique.tokens.length + rewrite.tokens.length,
    });
  });

  test('a response format binds the rewrite only; tools are refused', async () => {
    const principles = ['Answer in JSON.'];
    const messages: ChatMessage[] = [{ role: 'user', content: 'Name a llama.' }];
    const schema = { type: 'object', properties: { name: { type: 'string', maxLength: 6 } }, required: ['name'], additionalProperties: false };
    const result = await principledChat(model, messages, principles, { temperature: 0, maxTokens: 40, responseFormat: { type: 'json_schema', json_schema: { name: 'llama', schema } } });
    assert.equal(result.finishReason, 'stop');
    assert.deepEqual(Object.keys(JSON.parse(result.message.content ?? '')), ['name']);
    const plainDraft = await model.chat(withPrinciples(messages, principles), { temperature: 0, maxTokens: 40 });
    assert.equal(result.draft, plainDraft.message.content, 'the draft is plain text');
    const tool = { type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object' } } };
    assert.throws(() => principledChat(model, messages, principles, { tools: [tool] }), /tools or principles, not both/);
    assert.throws(() => principledChat(model, messages, []), /at least one principle/);
  });

  test('chatWithPrinciples: the plain chat without principles, the principles\' system prompt only with tools, else the three passes', async () => {
    const messages: ChatMessage[] = [{ role: 'user', content: 'Name a llama.' }];
    const options = { temperature: 0, maxTokens: 6 };
    const plain = await model.chat(messages, options);
    assert.deepEqual((await chatWithPrinciples(model, messages, undefined, options)).tokens, plain.tokens);
    const tool = { type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string', maxLength: 4 } }, required: ['q'] } } };
    const withTools = { ...options, maxTokens: 40, tools: [tool], toolChoice: 'required' as const };
    const called = await chatWithPrinciples(model, messages, ['Be brief.'], withTools);
    const expected = await model.chat(withPrinciples(messages, ['Be brief.']), withTools);
    assert.deepEqual([called.tokens, called.promptTokens], [expected.tokens, expected.promptTokens]);
    assert.ok(!('draft' in called));
    const principled = await chatWithPrinciples(model, messages, ['Be brief.'], options);
    const direct = await principledChat(model, messages, ['Be brief.'], options);
    const passesOf = (r: typeof principled) => ('draft' in r ? [r.tokens, r.draft, r.critique, r.passes.completionTokens] : undefined);
    assert.ok(passesOf(principled) !== undefined);
    assert.deepEqual(passesOf(principled), passesOf(direct));
  });
});
