/**
 * `moxing calc params|train|infer|fit|gpus`: transformer math in the terminal. Every number comes from
 * the library in src/calc; this file parses options and lays results out as tables (or JSON).
 */
import type { Command } from 'commander';
import {
  DEFAULT_FIT, DEFAULT_INFERENCE, DEFAULT_TRAINING, CALC_DTYPE_IDS, GPUS, GPU_IDS, MODEL_PRESETS, MODEL_PRESET_IDS,
  OPTIMIZER_BYTES_PER_PARAM, countParameters, fitBudget, inferenceCost, loadArchitecture, parseCalcDtype, trainingCost,
  type CalcDtype, type ModelSummary, type Optimizer, type Recompute, type StepTime, type TrainingPrecision,
} from '../calc/index.js';
import { formatBytes, formatCount, formatSeconds, parseBytes, parseCount } from '../calc/units.js';
import { MoxingError } from '../errors.js';
import { parseChoice, parseInteger, parseNumber } from './options.js';

type Row = readonly string[];

/** Columns padded to their widest cell; in grids (`alignNumbers`) numeric cells are right-aligned. */
function table(rows: readonly Row[], indent = '  ', alignNumbers = false): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const numeric = (cell: string) => /^[-\d.,]+\s*\S*%?$/.test(cell) && /\d/.test(cell);
  return rows
    .map((r) => indent + r.map((cell, c) => (alignNumbers && numeric(cell) && c > 0 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('   ').trimEnd())
    .join('\n');
}

const exact = (n: number) => Math.round(n).toLocaleString('en-US');
const both = (n: number) => `${exact(n)} (${formatCount(n)})`;

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

function printJson(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}

/** Whole counts like `--batch 32`, `--context 32k`. */
function wholeCount(name: string, min: number) {
  return (value: string): number => {
    const n = parseCount(value, name);
    if (!Number.isSafeInteger(n) || n < min) {
      throw new MoxingError('BAD_ARGUMENT', `${name} must be a whole number of at least ${min}, such as 32 or 32k, got "${value}"`);
    }
    return n;
  };
}

function summaryLines(m: ModelSummary): Row[] {
  const rows: Row[] = [['model', m.name], ['kind', m.kind], ['parameters', both(m.parameters)]];
  if (m.activeParameters !== m.parameters) rows.push(['active per token', both(m.activeParameters)]);
  rows.push(['layers', String(m.layers)], ['hidden size', String(m.hiddenSize)]);
  if (m.kvLayers > 0) rows.push(['heads (query / kv)', `${m.heads} / ${m.kvHeads} × ${m.headDim}`]);
  rows.push(['context', String(m.maxContext)]);
  return rows;
}

function stepRows(label: string, s: StepTime): Row[] {
  return [
    [`${label} memory time`, formatSeconds(s.memorySeconds)],
    [`${label} FLOP time`, formatSeconds(s.flopsSeconds)],
    ...(s.commsSeconds > 0 ? [[`${label} comms`, formatSeconds(s.commsSeconds)]] : []),
    [`${label} total`, `${formatSeconds(s.totalSeconds)} (${s.bound}-bound)`],
  ];
}

interface Common {
  model: string;
  json?: boolean;
}

async function summary(options: Common): Promise<ModelSummary> {
  return countParameters(await loadArchitecture(options.model));
}

function modelOption(command: Command): Command {
  return command
    .requiredOption('-m, --model <model>', `a preset (${MODEL_PRESET_IDS.slice(0, 4).join(', ')}, …), a config.json, a model folder or a hub id`)
    .option('--json', 'print the result as JSON');
}

function gpuOptions(command: Command, defaults: { gpu: unknown; gpus: number }): Command {
  return command
    // No commander default: the library's applies, and `fit --memory` without --gpu describes no table GPU.
    .option('--gpu <gpu>', `GPU type: ${GPU_IDS.join(', ')} (default: ${String(defaults.gpu)})`)
    .option('--gpus <n>', 'number of GPUs', parseInteger('--gpus', 1, 1_000_000), defaults.gpus);
}

export function register(program: Command): void {
  const calc = program.command('calc').description('transformer math: parameters, training and inference cost, memory fit');

  modelOption(calc.command('params').description('exact parameter count with a breakdown by component')).action(async (options: Common) => {
    const m = await summary(options);
    if (options.json) return printJson(m);
    print(table(summaryLines(m)));
    print('');
    const rows: Row[] = [['component', 'parameters', 'share']];
    for (const c of m.breakdown) rows.push([c.name, exact(c.parameters), `${((100 * c.parameters) / m.parameters).toFixed(1)}%`]);
    rows.push(['total', exact(m.parameters), '100.0%']);
    print(table(rows, '  ', true));
  });

  gpuOptions(modelOption(calc.command('train').description('training compute (6PD), time and memory per GPU')), DEFAULT_TRAINING)
    .option('--tokens <n>', 'training tokens, e.g. 1T, 300B, 2.5e12 (default: 20 per parameter, Chinchilla)', (v) => parseCount(v, '--tokens'))
    .option('--mfu <fraction>', 'model FLOPs utilization', parseNumber('--mfu', 0.001, 1), DEFAULT_TRAINING.mfu)
    .option('--dtype <dtype>', 'weight and gradient precision: fp32, fp16, bf16', parseChoice<TrainingPrecision>('--dtype', ['fp32', 'fp16', 'bf16']), DEFAULT_TRAINING.precision)
    .option('--optimizer <name>', `optimizer: ${Object.keys(OPTIMIZER_BYTES_PER_PARAM).join(', ')}`, parseChoice<Optimizer>('--optimizer', Object.keys(OPTIMIZER_BYTES_PER_PARAM) as Optimizer[]), DEFAULT_TRAINING.optimizer)
    .option('--zero <stage>', 'ZeRO stage 0-3', parseInteger('--zero', 0, 3), DEFAULT_TRAINING.zeroStage)
    .option('--tp <n>', 'tensor-parallel degree', parseInteger('--tp', 1, 1024), DEFAULT_TRAINING.tensorParallel)
    .option('--pp <n>', 'pipeline-parallel degree', parseInteger('--pp', 1, 1024), DEFAULT_TRAINING.pipelineParallel)
    .option('--recompute <mode>', 'activation recomputation: none, selective, full', parseChoice<Recompute>('--recompute', ['none', 'selective', 'full']), DEFAULT_TRAINING.recompute)
    .option('--batch <n>', 'micro-batch: sequences per GPU', wholeCount('--batch', 1), DEFAULT_TRAINING.microBatch)
    .option('--context <n>', 'sequence length (default: the model context)', wholeCount('--context', 1))
    .action(async (options: Common & { tokens?: number; gpu: string; gpus: number; mfu: number; dtype: TrainingPrecision; optimizer: Optimizer; zero: 0 | 1 | 2 | 3; tp: number; pp: number; recompute: Recompute; batch: number; context?: number }) => {
      const r = trainingCost(await summary(options), {
        tokens: options.tokens, gpu: options.gpu, gpus: options.gpus, mfu: options.mfu, precision: options.dtype, optimizer: options.optimizer,
        zeroStage: options.zero, tensorParallel: options.tp, pipelineParallel: options.pp, recompute: options.recompute,
        microBatch: options.batch, sequenceLength: options.context,
      });
      if (options.json) return printJson(r);
      const mem = r.memoryPerGpu;
      print(table([
        ['model', `${r.model}, ${formatCount(r.parameters)} parameters${r.activeParameters !== r.parameters ? ` (${formatCount(r.activeParameters)} active)` : ''}`],
        ['tokens', `${formatCount(r.tokens)}${r.tokensFromChinchilla ? ' (Chinchilla: 20 per parameter)' : ` (Chinchilla-optimal: ${formatCount(r.chinchillaTokens)})`}`],
        ['compute', `${r.flops.toExponential(3)} FLOPs (${r.flopsPerParameterToken}PD)`],
        ['hardware', `${r.gpus} × ${r.gpu} at ${formatCount(r.peakFlopsPerGpu)}FLOP/s, MFU ${r.mfu}`],
        ['GPU-hours', formatCount(r.gpuHours)],
        ['wall time', formatSeconds(r.wallSeconds)],
        ['parallelism', `data ${r.dataParallel} × tensor ${r.tensorParallel} × pipeline ${r.pipelineParallel}, ZeRO ${r.zeroStage}`],
      ]));
      print('');
      print(`  memory per GPU (${r.optimizer}, micro-batch ${r.microBatch} × ${r.sequenceLength} tokens, recompute ${r.recompute}):`);
      print(table([
        ['weights', formatBytes(mem.weightsBytes)],
        ['gradients', formatBytes(mem.gradientsBytes)],
        ['optimizer states', formatBytes(mem.optimizerBytes)],
        ['activations', formatBytes(mem.activationsBytes)],
        ['total', `${formatBytes(mem.totalBytes)} of ${formatBytes(r.gpuMemoryBytes)}: ${r.fits ? 'fits' : 'does NOT fit'}`],
      ], '    '));
    });

  gpuOptions(modelOption(calc.command('infer').description('inference memory, KV cache, per-token latency and prefill time')), DEFAULT_INFERENCE)
    .option('--dtype <dtype>', `weight format: ${CALC_DTYPE_IDS.join(', ')}`, (v) => parseCalcDtype(v, '--dtype'), DEFAULT_INFERENCE.weightDtype)
    .option('--kv-dtype <dtype>', 'KV cache format', (v) => parseCalcDtype(v, '--kv-dtype'), DEFAULT_INFERENCE.kvDtype)
    .option('--batch <n>', 'sequences decoded together', wholeCount('--batch', 1), DEFAULT_INFERENCE.batch)
    .option('--context <n>', 'tokens in each KV cache at the measured step (default: the model context)', wholeCount('--context', 0))
    .option('--prompt <n>', 'prompt tokens to prefill (default: the context)', wholeCount('--prompt', 0))
    .action(async (options: Common & { gpu: string; gpus: number; dtype: CalcDtype; kvDtype: CalcDtype; batch: number; context?: number; prompt?: number }) => {
      const r = inferenceCost(await summary(options), {
        gpu: options.gpu, gpus: options.gpus, weightDtype: options.dtype, kvDtype: options.kvDtype, batch: options.batch,
        contextTokens: options.context, promptTokens: options.prompt,
      });
      if (options.json) return printJson(r);
      const rows: Row[] = [
        ['model', `${r.model}, ${formatCount(r.parameters)} parameters`],
        ['hardware', `${r.gpus} × ${r.gpu}`],
        ['weights', `${formatBytes(r.weightsBytes)} (${r.weightDtype})`],
      ];
      if (r.kvCacheBytesPerToken > 0) {
        rows.push(
          ['KV cache per token', `${exact(r.kvCacheBytesPerToken)} B (${r.kvDtype})`],
          ['KV cache', `${formatBytes(r.kvCacheBytes)} (batch ${r.batch} × ${r.contextTokens} tokens${r.kind === 'whisper' ? ' + cross-attention' : ''})`],
        );
      }
      rows.push(['memory per GPU', `${formatBytes(r.memoryPerGpuBytes)} of ${formatBytes(r.gpuMemoryBytes)}: ${r.fits ? 'fits' : 'does NOT fit'}`]);
      if (r.decode) {
        rows.push(['FLOPs per token', formatCount(r.flopsPerToken)], ...stepRows('decode step', r.decode));
        rows.push(['throughput', `${formatCount(r.decode.tokensPerSecond)} tokens/s`]);
        rows.push(['compute-bound from', r.crossoverBatch === null ? 'never at this context (KV reads dominate)' : `batch ${Math.ceil(r.crossoverBatch)}`]);
      }
      const what = r.kind === 'vit' ? `forward (${r.batch} × ${r.encoderTokens} tokens)` : r.kind === 'whisper' ? `encoder + ${r.promptTokens}-token prompt` : `prefill (${r.promptTokens} tokens)`;
      rows.push(...stepRows(what, r.prefill));
      print(table(rows));
    });

  gpuOptions(modelOption(calc.command('fit').description('the largest batch × context that fits in GPU memory')), DEFAULT_FIT)
    .option('--dtype <dtype>', `weight format: ${CALC_DTYPE_IDS.join(', ')}`, (v) => parseCalcDtype(v, '--dtype'), DEFAULT_FIT.weightDtype)
    .option('--kv-dtype <dtype>', 'KV cache format', (v) => parseCalcDtype(v, '--kv-dtype'), DEFAULT_FIT.kvDtype)
    .option('--batch <n>', 'batch size to find the longest context for', wholeCount('--batch', 1), DEFAULT_FIT.batch)
    .option('--context <n>', 'context to find the largest batch for (default: the model context)', wholeCount('--context', 1))
    .option('--memory <size>', 'memory per GPU instead of the GPU table, e.g. 24GB', (v) => parseBytes(v, '--memory'))
    .option('--utilization <fraction>', 'share of memory for weights + KV cache', parseNumber('--utilization', 0.01, 1), DEFAULT_FIT.memoryUtilization)
    .action(async (options: Common & { gpu: string; gpus: number; dtype: CalcDtype; kvDtype: CalcDtype; batch: number; context?: number; memory?: number; utilization: number }) => {
      const r = fitBudget(await summary(options), {
        gpu: options.gpu, gpus: options.gpus, weightDtype: options.dtype, kvDtype: options.kvDtype, batch: options.batch,
        contextTokens: options.context, memoryBytesPerGpu: options.memory, memoryUtilization: options.utilization,
      });
      if (options.json) return printJson(r);
      print(table([
        ['model', r.model],
        ['budget', `${formatBytes(r.budgetBytes)} (${r.gpus} × ${r.gpu} × ${options.utilization})`],
        ['weights', `${formatBytes(r.weightsBytes)} (${r.weightDtype})${r.weightsFit ? '' : ': do NOT fit'}`],
        ['KV cache per token', `${exact(r.kvCacheBytesPerToken)} B (${r.kvDtype})`],
        ['cached tokens that fit', exact(r.kvTokenCapacity)],
        [`longest context at batch ${r.batch}`, exact(r.maxContextTokens)],
        [`largest batch at ${r.contextTokens} tokens`, exact(r.maxBatch)],
      ]));
      if (r.table.length > 0) {
        print('');
        print(table([['batch', 'max context'], ...r.table.map((row) => [String(row.batch), exact(row.maxContextTokens)])], '  ', true));
      }
    });

  calc.command('gpus').description('the GPU table').option('--json', 'print the table as JSON').action((options: { json?: boolean }) => {
    if (options.json) return printJson(GPUS);
    const rows: Row[] = [['id', 'name', 'memory', 'bandwidth', 'bf16', 'fp8', 'int8']];
    const f = (n: number | null) => (n === null ? '-' : `${formatCount(n)}`);
    for (const id of GPU_IDS) {
      const g = GPUS[id];
      rows.push([id, g.name, formatBytes(g.memoryBytes), `${formatBytes(g.memoryBandwidthBytesPerSecond)}/s`, f(g.flops.bf16 ?? g.flops.fp16), f(g.flops.fp8), f(g.flops.int8)]);
    }
    print(table(rows));
  });

  calc.command('models').description('the model presets').option('--json', 'print the presets as JSON').action((options: { json?: boolean }) => {
    if (options.json) return printJson(MODEL_PRESETS);
    const rows: Row[] = [['preset', 'name', 'parameters']];
    for (const id of MODEL_PRESET_IDS) rows.push([id, MODEL_PRESETS[id].name, formatCount(countParameters(MODEL_PRESETS[id]).parameters)]);
    print(table(rows));
  });
}
