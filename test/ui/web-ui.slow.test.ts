/**
 * The web UI in a real browser: Debian's Chromium driven by playwright-core against buildApp on 127.0.0.1, with
 * the tiny random Whisper of ../shared, a tiny DINOv2 and an image index, and the UI built from ui/ by Vite for
 * this run. Every page is checked against the API's own answer for the same input, and a screenshot of each
 * lands in test/ui/artifacts/ (gitignored).
 *
 * The jobs-mode test runs when `jobsRouteServed` finds /v1/jobs on the app under test (the jobs branch adds it), and
 * says why it did not run otherwise.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { build } from 'vite';
import { buildApp, type AppOptions } from '../../src/server/index.js';
import { formatCount } from '../../src/calc/units.js';
import { transcribe } from '../../src/asr/whisper/index.js';
import { renderTranscript } from '../../src/formats/index.js';
import { HnswIndex } from '../../src/vectors/index.js';
import { indexAttributes, indexImages, VisionModel } from '../../src/vision/index.js';
import { models, writePicture } from '../vision/fixtures.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SHARED = resolve(ROOT, '../shared');
const WHISPER = join(SHARED, 'models/whisper-tiny-random');
const CLIP = join(SHARED, 'audio/dev/single/en_000.wav');
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test/ui/artifacts');
const API_KEY = 'ui-browser-key';
/** Generous: the machine is shared; these bound a hang, they measure nothing. */
const WAIT_MS = 120_000;

/** The transcription fields the page sends with "temperature fallback" off: greedy, so both answers are equal. */
const GREEDY_FIELDS: [string, string][] = [['model', 'whisper-1'], ['response_format', 'verbose_json'], ['timestamp_granularities[]', 'segment'], ['timestamp_granularities[]', 'word'], ['temperature_inc', '0']];

// The browser's globals as the callbacks given to page.evaluate use them (this file compiles without the DOM library).
interface BrowserElement {
  readonly dataset: Record<string, string | undefined>;
  readonly tagName: string;
  readonly type?: string;
  readonly textContent: string | null;
}
interface BrowserAudio {
  play(): Promise<void>;
  pause(): void;
  currentTime: number;
}
declare const document: {
  querySelector(selector: 'audio'): BrowserAudio | null;
  querySelector(selector: string): BrowserElement | null;
  readonly activeElement: BrowserElement | null;
};
declare const localStorage: { getItem(key: string): string | null; setItem(key: string, value: string): void };
declare function getComputedStyle(element: unknown): { color: string };

interface VerboseJson {
  text: string;
  segments: { text: string; start: number }[];
  words: { word: string; start: number; end: number }[];
}

/** Whether the app under test registers the jobs API (the h-jobs branch adds it; buildApp's `jobs` option turns it on). */
export function jobsRouteServed(app: FastifyInstance): boolean {
  return app.hasRoute({ method: 'POST', url: '/v1/jobs' });
}

describe('web UI in Chromium', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'moxing-ui-browser-'));
  let app: FastifyInstance;
  let base = '';
  /** The same app with the jobs API on (where this branch has it), for the Transcribe page's jobs mode. */
  let jobsApp: FastifyInstance;
  let jobsBase = '';
  let context: BrowserContext;
  let page: Page;
  let picture = '';
  const consoleErrors: string[] = [];

  const api = async (path: string, init: RequestInit = {}, at = base): Promise<Response> => {
    const response = await fetch(`${at}${path}`, { ...init, headers: { authorization: `Bearer ${API_KEY}`, ...(init.headers as Record<string, string> | undefined) } });
    assert.ok(response.ok, `${path}: ${response.status} ${await response.clone().text()}`);
    return response;
  };
  const transcribeByApi = async (): Promise<Response> => {
    const form = new FormData();
    for (const [name, value] of GREEDY_FIELDS) form.append(name, value);
    form.append('file', new Blob([readFileSync(CLIP)]), 'en_000.wav');
    return api('/v1/audio/transcriptions', { method: 'POST', body: form });
  };
  const screenshot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // The UI as ui/ is now, built the way `npm run build` builds it.
    await build({ configFile: join(ROOT, 'ui/vite.config.ts'), build: { outDir: join(tmp, 'ui'), emptyOutDir: true }, logLevel: 'error' });

    const visionModel = models.dinov2();
    const images = join(tmp, 'images');
    for (const [k, kind] of ['warm', 'cool'].entries()) {
      mkdirSync(join(images, kind), { recursive: true });
      for (let i = 0; i < 3; i++) await writePicture(join(images, kind, `${i}.png`), k * 3 + i, 96, 96);
    }
    const vision = await VisionModel.load(visionModel);
    const index = HnswIndex.open(join(tmp, 'index'), { dim: 32, attributes: indexAttributes(vision, 'cls') });
    await indexImages(vision, images, index);
    await index.close();
    await vision.close();
    picture = join(images, 'warm', '1.png');

    const options: AppOptions = {
      models: [WHISPER],
      images: { model: visionModel, index: join(tmp, 'index'), imageRoot: tmp },
      ui: { root: join(tmp, 'ui') },
      // A loaded machine may take a minute over one transcription: the socket and handler limits are WAIT_MS here.
      security: { apiKey: API_KEY, rateLimitPerMinute: 0, connectionTimeoutMs: WAIT_MS, handlerTimeoutMs: WAIT_MS },
    };
    // The random model repeats one token up to the decode limit: a short limit keeps live decodes quick.
    app = await buildApp({ ...options, realtime: { maxTokens: 24 } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    // `jobs` is the jobs branch's option: ignored where buildApp does not know it, and then jobsRouteServed says so.
    const withJobs = { ...options, jobs: { dataDir: join(tmp, 'jobs') } };
    jobsApp = await buildApp(withJobs as AppOptions);
    await jobsApp.listen({ host: '127.0.0.1', port: 0 });
    jobsBase = `http://127.0.0.1:${(jobsApp.server.address() as AddressInfo).port}`;

    context = await chromium.launchPersistentContext(join(tmp, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      acceptDownloads: true,
      viewport: { width: 1200, height: 900 },
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync',
        // The microphone is the dev clip, granted without a prompt; the player may start without a click.
        '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-audio-capture=${CLIP}`,
        '--autoplay-policy=no-user-gesture-required',
      ],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(error.message));
  });

  after(async () => {
    await context?.close();
    await app?.close();
    await jobsApp?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('the page loads under its CSP, asks for the API key once and keeps it', async () => {
    await page.goto(`${base}/`);
    await page.getByRole('heading', { name: 'Transcribe' }).waitFor();
    // Without the key the API refuses, and the page says what to do.
    await page.getByText(/requires an API key.*Enter the server's API key/).first().waitFor({ timeout: WAIT_MS });
    await page.getByLabel('API key').fill(API_KEY);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('API key saved').waitFor();
    await page.getByRole('option', { name: 'whisper-tiny-random' }).waitFor({ state: 'attached' });
    assert.equal(await page.evaluate(() => localStorage.getItem('moxing.apiKey')), API_KEY);
    await page.reload();
    await page.getByText('API key saved').waitFor();
  });

  test('every page opens from the keyboard, with a screenshot of each', async () => {
    await page.goto(`${base}/`);
    await page.getByRole('heading', { name: 'Transcribe' }).waitFor();
    for (const name of ['Live', 'Images', 'Calculator', 'Transcribe']) {
      const link = page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name, exact: true });
      await link.focus();
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name, level: 1 }).waitFor();
      assert.equal(await link.getAttribute('aria-current'), 'page');
      await screenshot(`page-${name.toLowerCase()}`);
    }
    // The drop zone's file input and the options are reachable with Tab.
    const reached = new Set<string>();
    for (let i = 0; i < 30; i++) {
      await page.keyboard.press('Tab');
      reached.add(await page.evaluate(() => `${document.activeElement?.tagName}:${document.activeElement?.type ?? ''}`));
    }
    assert.ok(reached.has('INPUT:file') && reached.has('SELECT:select-one') && reached.has('INPUT:checkbox'), [...reached].join(' '));
  });

  test('Transcribe: an uploaded clip\'s transcript is the API\'s, follows playback, seeks on a click, downloads every format', async () => {
    const expected = (await (await transcribeByApi()).json()) as VerboseJson;
    assert.ok(expected.words.length >= 3, `the fixture model gives words: ${JSON.stringify(expected.words)}`);

    await page.goto(`${base}/#/transcribe`);
    await page.getByText(/no jobs API/).waitFor();
    await page.getByLabel('temperature fallback').uncheck();
    await page.locator('.drop input[type=file]').setInputFiles(CLIP);
    await page.locator('tr[data-status=succeeded]').waitFor({ timeout: WAIT_MS });
    await page.getByTestId('transcript').waitFor();

    const shownWords = await page.locator('button.word').allTextContents();
    assert.deepEqual(shownWords, expected.words.map((w) => w.word));
    const starts = await page.locator('button.word').evaluateAll((nodes) => nodes.map((n) => Number((n as unknown as BrowserElement).dataset.start)));
    assert.deepEqual(starts, expected.words.map((w) => w.start));
    assert.equal(await page.locator('p.segment').count(), expected.segments.length);

    // Playback moves the highlight forward through the words.
    const currentWord = () => page.evaluate(() => Number(document.querySelector('button.word.current')?.dataset.word ?? -1));
    await page.evaluate(() => document.querySelector('audio')!.play());
    await page.waitForFunction(() => Number(document.querySelector('button.word.current')?.dataset.word ?? -1) >= 0, undefined, { timeout: WAIT_MS });
    const first = await currentWord();
    const lastIndex = expected.words.length - 1;
    const later = expected.words.findIndex((w, i) => i > first && w.start > expected.words[first].start);
    assert.ok(later > first, 'a later word starts after the first highlighted one');
    await page.waitForFunction((min) => Number(document.querySelector('button.word.current')?.dataset.word ?? -1) >= min, later, { timeout: WAIT_MS });
    assert.ok((await currentWord()) > first);
    await page.evaluate(() => document.querySelector('audio')!.pause());

    // A click on a word puts the player at its start and highlights it; so does Enter on a focused word.
    const target = Math.min(lastIndex, Math.floor(expected.words.length / 2));
    await page.locator(`button.word[data-word="${target}"]`).click();
    const time = await page.evaluate(() => document.querySelector('audio')!.currentTime);
    assert.ok(Math.abs(time - expected.words[target].start) < 0.01, `currentTime ${time}, word start ${expected.words[target].start}`);
    assert.equal(await page.locator('button.word.current').getAttribute('data-word'), String(target));
    await screenshot('transcribe');
    await page.locator('button.word[data-word="0"]').focus();
    await page.keyboard.press('Enter');
    assert.ok(Math.abs((await page.evaluate(() => document.querySelector('audio')!.currentTime)) - expected.words[0].start) < 0.01);

    // Each format downloads: srt, vtt, txt and tsv are the CLI writers' bytes for the library's own transcription
    // of the file with the same options, cued by segment as the API's srt and vtt are (the writers cue by word
    // when segments carry words, and verbose_json lists words apart from segments).
    const timed = await transcribe(CLIP, { model: WHISPER, temperature: 0, wordTimestamps: true });
    const library = { ...timed, segments: timed.segments.map(({ words: _words, ...segment }) => segment) };
    for (const format of ['json', 'verbose_json', 'srt', 'vtt', 'txt', 'tsv'] as const) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.locator(`button[data-format="${format}"]`).click()]);
      const body = readFileSync(await download.path()).toString();
      if (format === 'json') assert.equal((JSON.parse(body) as { text: string }).text, expected.text);
      else if (format === 'verbose_json') assert.deepEqual(JSON.parse(body), expected);
      else assert.equal(body, renderTranscript(library, format), format);
    }
  });

  test('Transcribe: a file that is not audio fails in words', async () => {
    const notAudio = join(tmp, 'notes.wav');
    writeFileSync(notAudio, 'these are notes, not audio');
    await page.locator('.drop input[type=file]').setInputFiles(notAudio);
    const row = page.locator('tr[data-status=failed]').first();
    await row.waitFor({ timeout: WAIT_MS });
    assert.match(await row.textContent() ?? '', /not audio this server can read/);
  });

  test('Transcribe with the jobs API: the upload becomes a job the list follows; transcript and downloads are the job\'s', async (t) => {
    if (!jobsRouteServed(jobsApp)) {
      t.skip('the app under test has no /v1/jobs route yet (branch h-jobs adds it); this test runs once it does');
      return;
    }
    const job = (path: string) => api(path, {}, jobsBase);
    await page.goto(`${jobsBase}/`);
    await page.evaluate((key) => localStorage.setItem('moxing.apiKey', key), API_KEY);
    await page.reload();
    await page.getByText(/Each file becomes a job/).waitFor({ timeout: WAIT_MS });
    await page.getByLabel('temperature fallback').uncheck();
    await page.locator('.drop input[type=file]').setInputFiles(CLIP);
    await page.locator('tr[data-status=succeeded]').waitFor({ timeout: WAIT_MS });
    await page.getByTestId('transcript').waitFor();
    await screenshot('transcribe-jobs');
    const listed = (await (await job('/v1/jobs?limit=5')).json()) as { data: { id: string; status: string; progress: number }[] };
    assert.equal(listed.data.length, 1);
    const [{ id }] = listed.data;
    assert.equal(listed.data[0].status, 'succeeded');
    const result = (await (await job(`/v1/jobs/${id}/result?format=verbose_json`)).json()) as VerboseJson;
    assert.deepEqual(await page.locator('button.word').allTextContents(), result.words.map((w) => w.word));
    for (const format of ['json', 'verbose_json', 'srt', 'vtt', 'txt', 'tsv'] as const) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.locator(`button[data-format="${format}"]`).click()]);
      assert.equal(readFileSync(await download.path()).toString(), await (await job(`/v1/jobs/${id}/result?format=${format}`)).text(), format);
    }
    // Another visit lists the server's jobs; the transcript loads on demand (the audio stayed in the other page).
    await page.reload();
    const row = page.locator('tr[data-status=succeeded]');
    await row.waitFor({ timeout: WAIT_MS });
    await row.getByRole('button', { name: 'Show' }).click();
    await page.getByTestId('transcript').waitFor({ timeout: WAIT_MS });
    assert.deepEqual(await page.locator('button.word').allTextContents(), result.words.map((w) => w.word));
    await page.getByText('The audio of this job is not in this browser').waitFor();
  });

  test('Live: the fake microphone\'s speech arrives as committed text, with a latency readout', async () => {
    await page.goto(`${base}/#/live`);
    await page.getByRole('button', { name: 'Start listening' }).click();
    await page.locator('.live-text .committed').first().waitFor({ timeout: WAIT_MS });
    const committed = await page.locator('.live-text .committed').first().textContent();
    assert.ok((committed ?? '').trim().length > 0, 'committed text is not empty');
    await page.getByTestId('latency').filter({ hasText: /\d+ ms/ }).waitFor({ timeout: WAIT_MS });
    assert.equal(await page.locator('.live-text .committed').first().evaluate((n) => getComputedStyle(n).color), 'rgb(0, 0, 0)');
    await screenshot('live');
    await page.getByRole('button', { name: 'Stop' }).click();
  });

  test('Images: the search grid is the API\'s answer for the same picture', async () => {
    const expected = (await (await api('/v1/images/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: readFileSync(picture).toString('base64'), k: 12 }) })).json()) as { results: { path: string; score: number }[] };
    await page.goto(`${base}/#/images`);
    await page.locator('.drop input[type=file]').setInputFiles(picture);
    await page.getByTestId('image-results').waitFor({ timeout: WAIT_MS });
    await screenshot('images');
    assert.deepEqual(await page.locator('.card .path').allTextContents(), expected.results.map((r) => r.path));
    assert.deepEqual(await page.locator('.card .score').allTextContents(), expected.results.map((r) => r.score.toFixed(4)));
    assert.equal((await page.locator('.card .path').first().textContent()), 'images/warm/1.png');
  });

  test('Calculator: a preset and a pasted config.json give the API\'s numbers; a bad config is refused in words', async () => {
    await page.goto(`${base}/#/calculator`);
    await page.getByLabel('Preset', { exact: true }).selectOption('llama-7b');
    await page.getByRole('button', { name: 'Calculate' }).click();
    await page.getByTestId('calc-results').waitFor({ timeout: WAIT_MS });
    await screenshot('calculator');
    const json = (path: string, body: unknown) => api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json());
    const params = (await json('/v1/calc/params', { model: 'llama-7b' })) as { parameters: number };
    const train = (await json('/v1/calc/train', { model: 'llama-7b', gpu: 'a100-80g', gpus: 1 })) as { gpuHours: number };
    assert.equal(await page.getByTestId('param-count').textContent(), formatCount(params.parameters));
    const trainRows = await page.getByTestId('train-table').locator('tr').allTextContents();
    assert.ok(trainRows.includes(`GPU-hours${formatCount(train.gpuHours)}`), trainRows.join(' | '));
    assert.ok((await page.getByTestId('infer-table').locator('tr').count()) >= 5);

    const config = { model_type: 'llama', vocab_size: 32000, hidden_size: 512, intermediate_size: 1376, num_hidden_layers: 4, num_attention_heads: 8, num_key_value_heads: 8, max_position_embeddings: 2048, tie_word_embeddings: false };
    const pasted = (await json('/v1/calc/params', { model: config })) as { parameters: number };
    await page.getByLabel('config.json', { exact: true }).fill(JSON.stringify(config));
    await page.getByRole('button', { name: 'Calculate' }).click();
    await page.waitForFunction((text) => document.querySelector('[data-testid=param-count]')?.textContent === text, formatCount(pasted.parameters), { timeout: WAIT_MS });

    await page.getByLabel('config.json', { exact: true }).fill('{"model_type": "llama", "hidden_size": -1}');
    await page.getByRole('button', { name: 'Calculate' }).click();
    await page.getByRole('alert').filter({ hasText: /The calculation failed: .+/ }).waitFor({ timeout: WAIT_MS });
    await page.getByLabel('config.json', { exact: true }).fill('{not json');
    await page.getByRole('button', { name: 'Calculate' }).click();
    await page.getByRole('alert').filter({ hasText: 'The pasted config.json is not valid JSON.' }).waitFor();
  });

  test('no script, style or socket was refused by the CSP, and no page error', () => {
    assert.deepEqual(consoleErrors.filter((e) => /Content Security Policy|Refused to|Uncaught/i.test(e)), []);
  });
});
