/**
 * `moxing calc params|train|infer|fit|gpus`: transformer math in the terminal. Every number comes from
 * the library in src/calc; this file parses options and lays results out as tables (or JSON).
 */
import type { Command } from 'commander';
import {
  DEFAULT_FIT, DEFAULT_INFERENCE, DEFAULT_TRAINING, CALC_DTYPE_IDS, GPUS, GPU_IDS, MODEL_PRESETS, MODEL_PRESET_IDS,
  OPTIMIZERS, RECOMPUTE_MODES, TRAINING_PRECISIONS, countParameters, fitBudget, inferenceCost, loadArchitecture, trainingCost,
  type FitOptions, type InferenceOptions, type ModelSummary, type TrainingOptions, type StepTime,
} from '../calc/index.js';
import { formatBytes, formatCount, formatSeconds, parseBytes, parseCount } from '../calc/units.js';
import { FIT_FIELDS, INFERENCE_FIELDS, TRAINING_FIELDS } from '../calc/option-schemas.js';
import { addFlags, fieldsOf, type Flag } from './flags.js';

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



const gpuFlags = (fields: Pick<typeof TRAINING_FIELDS, 'gpu' | 'gpus'>): Flag[] => [
  { field: 'gpu', value: '<gpu>', description: `GPU type: ${GPU_IDS.join(', ')}`, schema: fields.gpu },
  { field: 'gpus', value: '<n>', description: 'number of GPUs', schema: fields.gpus },
];

/** What serving a model on GPUs takes, for `infer` and `fit`. */
const servingFlags = (fields: Pick<typeof INFERENCE_FIELDS, 'gpu' | 'gpus' | 'weightDtype' | 'kvDtype'>): Flag[] => [
  ...gpuFlags(fields),
  { field: 'weightDtype', value: '<dtype>', description: `weight format: ${CALC_DTYPE_IDS.join(', ')}`, schema: fields.weightDtype, read: lowerCase, aliases: ['--dtype'] },
  { field: 'kvDtype', value: '<dtype>', description: 'KV cache format', schema: fields.kvDtype, read: lowerCase },
];

const lowerCase = (value: string): string => value.trim().toLowerCase();
/** Counts as people write them: 32, 32k, 1T, 2.5e12. */
const count = (value: string, flag: string): number => parseCount(value, flag);

/** `calc train`: trainingCost()'s options by their names; the short names of earlier releases stay as aliases. */
export const TRAIN_FLAGS: readonly Flag[] = [
  ...gpuFlags(TRAINING_FIELDS),
  { field: 'tokens', value: '<n>', description: 'training tokens, e.g. 1T, 300B, 2.5e12 (default: 20 per parameter, Chinchilla)', schema: TRAINING_FIELDS.tokens, read: count },
  { field: 'mfu', value: '<fraction>', description: 'model FLOPs utilization', schema: TRAINING_FIELDS.mfu },
  { field: 'precision', value: '<dtype>', description: `weight and gradient precision: ${TRAINING_PRECISIONS.join(', ')}`, schema: TRAINING_FIELDS.precision, aliases: ['--dtype'] },
  { field: 'optimizer', value: '<name>', description: `optimizer: ${OPTIMIZERS.join(', ')}`, schema: TRAINING_FIELDS.optimizer },
  { field: 'zeroStage', value: '<stage>', description: 'ZeRO stage 0-3', schema: TRAINING_FIELDS.zeroStage, aliases: ['--zero'] },
  { field: 'tensorParallel', value: '<n>', description: 'tensor-parallel degree', schema: TRAINING_FIELDS.tensorParallel, aliases: ['--tp'] },
  { field: 'pipelineParallel', value: '<n>', description: 'pipeline-parallel degree', schema: TRAINING_FIELDS.pipelineParallel, aliases: ['--pp'] },
  { field: 'recompute', value: '<mode>', description: `activation recomputation: ${RECOMPUTE_MODES.join(', ')}`, schema: TRAINING_FIELDS.recompute },
  { field: 'microBatch', value: '<n>', description: 'micro-batch: sequences per GPU', schema: TRAINING_FIELDS.microBatch, read: count, aliases: ['--batch'] },
  { field: 'sequenceLength', value: '<n>', description: 'sequence length (default: the model context)', schema: TRAINING_FIELDS.sequenceLength, read: count, aliases: ['--context'] },
];

/** `calc infer`: inferenceCost()'s options by their names. */
export const INFER_FLAGS: readonly Flag[] = [
  ...servingFlags(INFERENCE_FIELDS),
  { field: 'batch', value: '<n>', description: 'sequences decoded together', schema: INFERENCE_FIELDS.batch, read: count },
  { field: 'contextTokens', value: '<n>', description: 'tokens in each KV cache at the measured step (default: the model context)', schema: INFERENCE_FIELDS.contextTokens, read: count, aliases: ['--context'] },
  { field: 'promptTokens', value: '<n>', description: 'prompt tokens to prefill (default: the context)', schema: INFERENCE_FIELDS.promptTokens, read: count, aliases: ['--prompt'] },
];

/** `calc fit`: fitBudget()'s options by their names. */
export const FIT_FLAGS: readonly Flag[] = [
  ...servingFlags(FIT_FIELDS),
  { field: 'batch', value: '<n>', description: 'batch size to find the longest context for', schema: FIT_FIELDS.batch, read: count },
  { field: 'contextTokens', value: '<n>', description: 'context to find the largest batch for (default: the model context)', schema: FIT_FIELDS.contextTokens, read: count, aliases: ['--context'] },
  { field: 'memoryBytesPerGpu', value: '<size>', description: 'memory per GPU instead of the GPU table, e.g. 24GB', schema: FIT_FIELDS.memoryBytesPerGpu, read: (v, flag) => parseBytes(v, flag), aliases: ['--memory'] },
  { field: 'memoryUtilization', value: '<fraction>', description: 'share of memory for weights + KV cache', schema: FIT_FIELDS.memoryUtilization, aliases: ['--utilization'] },
];

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

  const train = modelOption(calc.command('train').description('training compute (6PD), time and memory per GPU'));
  addFlags(train, TRAIN_FLAGS, DEFAULT_TRAINING).action(async (options: Common) => {
      const r = trainingCost(await summary(options), fieldsOf<TrainingOptions>(train, TRAIN_FLAGS));
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

  const infer = modelOption(calc.command('infer').description('inference memory, KV cache, per-token latency and prefill time'));
  addFlags(infer, INFER_FLAGS, DEFAULT_INFERENCE).action(async (options: Common) => {
      const r = inferenceCost(await summary(options), fieldsOf<InferenceOptions>(infer, INFER_FLAGS));
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

  const fit = modelOption(calc.command('fit').description('the largest batch × context that fits in GPU memory'));
  addFlags(fit, FIT_FLAGS, DEFAULT_FIT).action(async (options: Common) => {
      const given = fieldsOf<FitOptions>(fit, FIT_FLAGS);
      const r = fitBudget(await summary(options), given);
      if (options.json) return printJson(r);
      print(table([
        ['model', r.model],
        ['budget', `${formatBytes(r.budgetBytes)} (${r.gpus} × ${r.gpu} × ${given.memoryUtilization ?? DEFAULT_FIT.memoryUtilization})`],
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
