/**
 * Calculator: a preset or a pasted config.json; the parameter count with its breakdown, and what training and
 * serving the model cost on a chosen GPU (POST /v1/calc/params, /train and /infer).
 */
import { useState } from 'preact/hooks';
import { MODEL_PRESETS } from '../../../src/calc/presets.js';
import { GPU_IDS, GPUS } from '../../../src/calc/gpus.js';
import { CALC_DTYPE_IDS } from '../../../src/calc/dtypes.js';
import { formatBytes, formatCount, formatSeconds } from '../../../src/calc/units.js';
import { apiJson, describeError } from '../api.js';

interface Params {
  name: string;
  parameters: number;
  activeParameters: number;
  embeddingParameters: number;
  breakdown: { name: string; parameters: number }[];
}
interface Step {
  totalSeconds: number;
  bound: string;
}
interface Train {
  tokens: number;
  tokensFromChinchilla: boolean;
  flops: number;
  gpuHours: number;
  wallSeconds: number;
  memoryPerGpu: { weightsBytes: number; gradientsBytes: number; optimizerBytes: number; activationsBytes: number; totalBytes: number };
  gpuMemoryBytes: number;
  fits: boolean;
}
interface Infer {
  weightsBytes: number;
  kvCacheBytes: number;
  memoryPerGpuBytes: number;
  gpuMemoryBytes: number;
  fits: boolean;
  contextTokens: number;
  decode: (Step & { tokensPerSecond: number }) | null;
  prefill: Step;
  crossoverBatch: number | null;
}

interface Answer {
  params: Params;
  train: Train;
  infer: Infer;
}

const PRESETS = Object.entries(MODEL_PRESETS).map(([id, preset]) => ({ id, name: preset.name }));

export function CalculatorPage() {
  const [source, setSource] = useState<'preset' | 'config'>('preset');
  const [preset, setPreset] = useState('llama-7b');
  const [config, setConfig] = useState('');
  const [gpu, setGpu] = useState<string>('a100-80g');
  const [gpus, setGpus] = useState(1);
  const [tokens, setTokens] = useState('');
  const [weightDtype, setWeightDtype] = useState('bf16');
  const [batch, setBatch] = useState(1);
  const [answer, setAnswer] = useState<Answer | undefined>(undefined);
  const [error, setError] = useState('');

  const calculate = async (event: Event) => {
    event.preventDefault();
    setError('');
    let model: string | Record<string, unknown> = preset;
    if (source === 'config') {
      try {
        model = JSON.parse(config) as Record<string, unknown>;
      } catch {
        setError('The pasted config.json is not valid JSON.');
        return;
      }
    }
    const trainTokens = tokens.trim() === '' ? undefined : Number(tokens);
    if (trainTokens !== undefined && !(trainTokens > 0)) {
      setError('Training tokens must be a positive number (e.g. 1e12), or empty for Chinchilla\'s 20 per parameter.');
      return;
    }
    try {
      const [params, train, infer] = await Promise.all([
        apiJson<Params>('/v1/calc/params', { model }),
        apiJson<Train>('/v1/calc/train', { model, gpu, gpus, ...(trainTokens !== undefined ? { tokens: trainTokens } : {}) }),
        apiJson<Infer>('/v1/calc/infer', { model, gpu, gpus, weightDtype, batch }),
      ]);
      setAnswer({ params, train, infer });
    } catch (e) {
      setAnswer(undefined);
      setError(`The calculation failed: ${describeError(e)}`);
    }
  };

  return (
    <div class="page">
      <h1>Calculator</h1>
      <form class="calc-form" onSubmit={(e) => void calculate(e)}>
        <fieldset>
          <legend>Model</legend>
          <label class="check">
            <input type="radio" name="source" checked={source === 'preset'} onChange={() => setSource('preset')} /> preset
          </label>
          <select aria-label="Preset" value={preset} disabled={source !== 'preset'} onChange={(e) => setPreset(e.currentTarget.value)}>
            {PRESETS.map((p) => (
              <option value={p.id}>{p.name}</option>
            ))}
          </select>
          <label class="check">
            <input type="radio" name="source" checked={source === 'config'} onChange={() => setSource('config')} /> pasted config.json
          </label>
          <textarea aria-label="config.json" rows={6} placeholder='{"model_type": "llama", "hidden_size": 4096, …}' value={config} onInput={(e) => setConfig(e.currentTarget.value)} onFocus={() => setSource('config')} />
        </fieldset>
        <fieldset>
          <legend>Hardware and workload</legend>
          <label>
            GPU
            <select value={gpu} onChange={(e) => setGpu(e.currentTarget.value)}>
              {GPU_IDS.map((id) => (
                <option value={id}>{GPUS[id].name}</option>
              ))}
            </select>
          </label>
          <label>
            GPUs
            <input type="number" min={1} max={4096} value={gpus} onChange={(e) => setGpus(Math.max(1, Number(e.currentTarget.value) || 1))} />
          </label>
          <label>
            Training tokens
            <input type="text" inputMode="decimal" placeholder="Chinchilla: 20 per parameter" value={tokens} onInput={(e) => setTokens(e.currentTarget.value)} />
          </label>
          <label>
            Weights
            <select value={weightDtype} onChange={(e) => setWeightDtype(e.currentTarget.value)}>
              {CALC_DTYPE_IDS.map((d) => (
                <option value={d}>{d}</option>
              ))}
            </select>
          </label>
          <label>
            Batch
            <input type="number" min={1} value={batch} onChange={(e) => setBatch(Math.max(1, Number(e.currentTarget.value) || 1))} />
          </label>
        </fieldset>
        <button type="submit">Calculate</button>
      </form>
      {error && <p class="error" role="alert">{error}</p>}
      {answer && <Results answer={answer} />}
    </div>
  );
}

function Results({ answer: { params, train, infer } }: { answer: Answer }) {
  const m = train.memoryPerGpu;
  return (
    <div class="results" data-testid="calc-results">
      <h2>
        {params.name}: <span data-testid="param-count">{formatCount(params.parameters)}</span> parameters
      </h2>
      <table aria-label="Parameters">
        <tbody>
          <Row name="Parameters" value={params.parameters.toLocaleString('en')} />
          <Row name="Active per token" value={params.activeParameters.toLocaleString('en')} />
          <Row name="Embedding tables" value={params.embeddingParameters.toLocaleString('en')} />
          {params.breakdown.map((b) => (
            <Row name={`· ${b.name}`} value={b.parameters.toLocaleString('en')} />
          ))}
        </tbody>
      </table>
      <h2>Training</h2>
      <table aria-label="Training" data-testid="train-table">
        <tbody>
          <Row name="Tokens" value={`${formatCount(train.tokens)}${train.tokensFromChinchilla ? ' (Chinchilla)' : ''}`} />
          <Row name="Compute" value={`${train.flops.toExponential(3)} FLOPs`} />
          <Row name="GPU-hours" value={formatCount(train.gpuHours)} />
          <Row name="Wall time" value={formatSeconds(train.wallSeconds)} />
          <Row name="Weights per GPU" value={formatBytes(m.weightsBytes)} />
          <Row name="Gradients per GPU" value={formatBytes(m.gradientsBytes)} />
          <Row name="Optimizer per GPU" value={formatBytes(m.optimizerBytes)} />
          <Row name="Activations per GPU" value={formatBytes(m.activationsBytes)} />
          <Row name="Total per GPU" value={`${formatBytes(m.totalBytes)} of ${formatBytes(train.gpuMemoryBytes)}: ${train.fits ? 'fits' : 'does not fit'}`} />
        </tbody>
      </table>
      <h2>Inference</h2>
      <table aria-label="Inference" data-testid="infer-table">
        <tbody>
          <Row name="Weights" value={formatBytes(infer.weightsBytes)} />
          <Row name={`KV cache at ${infer.contextTokens.toLocaleString('en')} tokens`} value={formatBytes(infer.kvCacheBytes)} />
          <Row name="Memory per GPU" value={`${formatBytes(infer.memoryPerGpuBytes)} of ${formatBytes(infer.gpuMemoryBytes)}: ${infer.fits ? 'fits' : 'does not fit'}`} />
          {infer.decode && <Row name="Decode step" value={`${formatSeconds(infer.decode.totalSeconds)} (${infer.decode.bound}-bound), ${formatCount(infer.decode.tokensPerSecond)} tokens/s`} />}
          <Row name="Prefill (time to first token)" value={`${formatSeconds(infer.prefill.totalSeconds)} (${infer.prefill.bound}-bound)`} />
          <Row name="Compute-bound from batch" value={infer.crossoverBatch === null ? 'never' : infer.crossoverBatch.toLocaleString('en')} />
        </tbody>
      </table>
    </div>
  );
}

function Row({ name, value }: { name: string; value: string }) {
  return (
    <tr>
      <th scope="row">{name}</th>
      <td>{value}</td>
    </tr>
  );
}
