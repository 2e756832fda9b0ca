/**
 * The web UI's Chat page in Debian's Chromium (playwright-core) against buildApp on 127.0.0.1 with the tiny
 * generated LLM, the UI built from ui/ by Vite for this run: the streamed answer the page shows is the API's
 * non-streamed answer at temperature 0, the history goes back with the next turn, and a picture sent to this text
 * model comes back as the server's 400 in words. A screenshot lands in test/ui/artifacts/ (gitignored).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { build } from 'vite';
import { buildApp } from '../../src/server/index.js';
import { ensureLlmModel, TINY_LLM } from '../models/llm.js';
import { writePicture } from '../vision/fixtures.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test/ui/artifacts');
const API_KEY = 'ui-chat-key';
/** Generous: the machine is shared; these bound a hang, they measure nothing. */
const WAIT_MS = 120_000;
const MAX_TOKENS = 24;

declare const localStorage: { setItem(key: string, value: string): void };

describe('web UI Chat page in Chromium', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'moxing-ui-chat-'));
  let app: FastifyInstance;
  let base = '';
  let model = '';
  let context: BrowserContext;
  let page: Page;
  const consoleErrors: string[] = [];

  /** The API's own non-streamed answer to `messages`, greedy. */
  const apiAnswer = async (messages: { role: string; content: string }[]): Promise<string> => {
    const response = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages, temperature: 0, max_tokens: MAX_TOKENS }),
    });
    assert.equal(response.status, 200);
    return ((await response.json()) as { choices: { message: { content: string } }[] }).choices[0].message.content;
  };
  const assistantTexts = () => page.locator('.message.assistant:not(.streaming)').allTextContents();

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await build({ configFile: join(ROOT, 'ui/vite.config.ts'), build: { outDir: join(tmp, 'ui'), emptyOutDir: true }, logLevel: 'error' });
    const llm = await ensureLlmModel(TINY_LLM);
    model = basename(llm);
    app = await buildApp({
      images: false,
      ui: { root: join(tmp, 'ui') },
      chat: { models: [llm] },
      security: { apiKey: API_KEY, rateLimitPerMinute: 0, connectionTimeoutMs: WAIT_MS, handlerTimeoutMs: WAIT_MS },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    context = await chromium.launchPersistentContext(join(tmp, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1100, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(error.message));
    // The key as the page keeps it (the key field itself is tested in web-ui.slow.test.ts).
    await page.goto(`${base}/`);
    await page.evaluate((key) => localStorage.setItem('moxing.apiKey', key), API_KEY);
    await page.reload();
  });

  after(async () => {
    await context?.close();
    await app?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('a streamed answer equals the API\'s non-streamed answer at temperature 0, and the history goes back with the next turn', async () => {
    await page.goto(`${base}/#/chat`);
    await page.getByRole('heading', { name: 'Chat', level: 1 }).waitFor();
    await page.getByRole('option', { name: model }).waitFor({ state: 'attached', timeout: WAIT_MS });
    await page.locator('.chat select').selectOption(model);
    await page.getByLabel('Temperature').fill('0');
    await page.getByLabel('Max tokens').fill(String(MAX_TOKENS));
    await page.getByLabel('Message').fill('What is the weather in Paris?');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('.message.assistant:not(.streaming)').first().waitFor({ timeout: WAIT_MS });
    const first = await apiAnswer([{ role: 'user', content: 'What is the weather in Paris?' }]);
    assert.ok(first.length > 0);
    assert.deepEqual(await assistantTexts(), [first]);

    await page.getByLabel('Message').fill('Hello! How are you?');
    await page.keyboard.press('Enter');
    await page.locator('.message.assistant:not(.streaming)').nth(1).waitFor({ timeout: WAIT_MS });
    const second = await apiAnswer([
      { role: 'user', content: 'What is the weather in Paris?' },
      { role: 'assistant', content: first },
      { role: 'user', content: 'Hello! How are you?' },
    ]);
    assert.deepEqual(await assistantTexts(), [first, second]);
    assert.deepEqual(await page.locator('.message.user').allTextContents(), ['What is the weather in Paris?', 'Hello! How are you?']);
    await page.screenshot({ path: join(ARTIFACTS, 'chat.png'), fullPage: true });
  });

  test('a picture sent to a text model is the server\'s 400 in words, and stays out of the history', async () => {
    const picture = join(tmp, 'picture.png');
    await writePicture(picture, 1, 32, 32);
    await page.getByRole('button', { name: 'New chat' }).click();
    assert.equal(await page.locator('.message').count(), 0);
    await page.locator('.attach input[type=file]').setInputFiles(picture);
    await page.getByRole('button', { name: 'Remove picture 1' }).waitFor();
    await page.getByLabel('Message').fill('What is in this picture?');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByRole('alert').filter({ hasText: /The answer failed: .*text only/ }).waitFor({ timeout: WAIT_MS });
    assert.deepEqual(await assistantTexts(), []);
  });

  test('no script, style or socket was refused by the CSP, and no page error', () => {
    assert.deepEqual(consoleErrors.filter((e) => /Content Security Policy|Refused to|Uncaught/i.test(e)), []);
  });
});
