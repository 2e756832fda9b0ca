/**
 * One run of `bench/chat-memory.ts`, in its own process (compiled, on plain node, as bench/chat-runner.ts runs):
 * loads a chat model as `moxing chat` does, generates as the bench's rows do, and prints the process's memory after
 * each phase. Arguments: <model folder> <variant fp32|q4> <accuracy level, or "file"> <threads> <prompt text>
 * <generated tokens>.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import v8 from 'node:v8';
import { loadChatModel } from '../src/chat/load.js';
import { emitReport, peakRssBytes } from './lib.js';

const [dir, variant, level, threadsArg, text, tokensArg] = process.argv.slice(2);
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

function statusBytes(key: string): number {
  const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

/** Resident bytes per kind of mapping: the mapped side file of a rewritten model, malloc's heap, anonymous maps (V8's heap, ORT's large buffers), libraries. */
function mappings(): string {
  const sums = new Map<string, number>();
  let kind = '';
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const name = head[1];
      kind = name.includes('moxing_data') || name.endsWith('_data') ? 'weights mapped' : name === '[heap]' ? 'malloc heap' : name === '' ? 'anonymous' : name.includes('.so') || name.endsWith('.node') ? 'libraries' : name.startsWith('[') ? 'other' : 'files';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) sums.set(kind, (sums.get(kind) ?? 0) + Number(rss[1]) * 1024);
  }
  return [...sums].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${mib(v)}`).join(', ');
}

function phase(name: string): void {
  const usage = process.memoryUsage();
  const spaces = v8.getHeapSpaceStatistics().filter((s) => s.physical_space_size >= 2 ** 20).map((s) => `${s.space_name.replace('_space', '')} ${mib(s.physical_space_size)}`);
  console.log(`${name.padEnd(12)} RSS ${mib(statusBytes('VmRSS'))} MiB (anonymous ${mib(statusBytes('RssAnon'))}, file ${mib(statusBytes('RssFile'))}), peak ${mib(statusBytes('VmHWM'))} | ${mappings()} | V8 heap used ${mib(usage.heapUsed)}: ${spaces.join(', ')}; array buffers ${mib(usage.arrayBuffers)}`);
}

phase('start');
const model = await loadChatModel(dir, { variant: variant as 'fp32' | 'q4', q4AccuracyLevel: level === 'file' ? false : Number(level), runtime: { intraOpThreads: Number(threadsArg) } });
phase('loaded');
const eos = (JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8')) as { eos_token_id: number[] }).eos_token_id;
const ban = Object.fromEntries(eos.map((id) => [id, -100]));
await model.generate(text, { maxTokens: 2, temperature: 0, logitBias: ban });
phase('warm-up');
const result = await model.generate(`${text} `, { maxTokens: Number(tokensArg), temperature: 0, logitBias: ban });
phase('generated');
emitReport({ runner: 'chat-memory', wallMs: 0, peakRssBytes: peakRssBytes(), extra: { decode: (result.tokens.length - 1) / (result.timings.decodeMs / 1000) } });
