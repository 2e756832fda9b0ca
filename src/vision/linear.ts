/**
 * The linear probe: multinomial logistic regression on frozen features, trained here in TypeScript.
 * Features are standardised with the training split's mean and std; full-batch Adam minimises the
 * cross-entropy plus an L2 penalty on the weights; training stops when the held-out split's loss has not
 * improved for `patience` epochs, and the best weights are kept. The held-out accuracy is reported.
 */
import { MoxingError } from '../errors.js';
import { checkLabeled, toPrediction, type LabeledVectors, type Prediction } from './knn.js';

export interface LinearProbeOptions {
  /** L2 penalty on the weights (not the biases). @default 1e-4 */
  l2: number;
  /** Adam step size (on standardised features). @default 0.05 */
  learningRate: number;
  /** Upper bound on full-batch epochs. @default 500 */
  maxEpochs: number;
  /** Epochs without a better held-out loss before stopping. @default 25 */
  patience: number;
  /** Share of each class held out for early stopping and the reported accuracy. @default 0.2 */
  validationFraction: number;
  /** Seed of the train/held-out split. @default 0 */
  seed: number;
}

export const DEFAULT_LINEAR_PROBE: Readonly<LinearProbeOptions> = Object.freeze({
  l2: 1e-4, learningRate: 0.05, maxEpochs: 500, patience: 25, validationFraction: 0.2, seed: 0,
});

export interface LinearProbeReport {
  /** Accuracy on the held-out split (null when every class had too few examples to hold any out). */
  readonly validationAccuracy: number | null;
  readonly trainAccuracy: number;
  readonly epochs: number;
  readonly bestEpoch: number;
  readonly trainSize: number;
  readonly validationSize: number;
}

export class LinearProbe {
  private constructor(
    readonly classes: readonly string[],
    private readonly dim: number,
    private readonly mean: Float64Array,
    private readonly invStd: Float64Array,
    /** [classes, dim] */
    private readonly weights: Float64Array,
    private readonly bias: Float64Array,
    readonly report: LinearProbeReport,
  ) {}

  /** Trains on labelled features. */
  static train(data: LabeledVectors, options: Partial<LinearProbeOptions> = {}): LinearProbe {
    const o = { ...DEFAULT_LINEAR_PROBE, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as LinearProbeOptions;
    if (!(o.validationFraction >= 0 && o.validationFraction < 1)) throw new MoxingError('BAD_ARGUMENT', `validation fraction must be in [0, 1), got ${o.validationFraction}`);
    if (!(o.l2 >= 0) || !(o.learningRate > 0)) throw new MoxingError('BAD_ARGUMENT', 'l2 must be >= 0 and the learning rate > 0');
    const { dim, classes } = checkLabeled(data);
    if (classes.length < 2) throw new MoxingError('BAD_ARGUMENT', `a linear probe needs at least 2 classes, got ${classes.length} (${classes.join(', ')})`);
    const classIndex = new Map(classes.map((c, i) => [c, i]));
    const y = Int32Array.from(data.labels, (l) => classIndex.get(l) as number);
    const { train, validation } = split(y, classes.length, o.validationFraction, o.seed);

    // Standardise with training statistics only.
    const mean = new Float64Array(dim);
    const invStd = new Float64Array(dim);
    for (const i of train) for (let j = 0; j < dim; j++) mean[j] += data.vectors[i][j] / train.length;
    for (const i of train) for (let j = 0; j < dim; j++) invStd[j] += (data.vectors[i][j] - mean[j]) ** 2 / train.length;
    for (let j = 0; j < dim; j++) invStd[j] = 1 / Math.sqrt(invStd[j] + 1e-8);
    const x = data.vectors.map((v) => Float64Array.from(v, (value, j) => (value - mean[j]) * invStd[j]));

    const c = classes.length;
    const w = new Float64Array(c * dim);
    const b = new Float64Array(c);
    const adam = new Adam(w.length + b.length, o.learningRate);
    const grad = new Float64Array(w.length + b.length);
    const probs = new Float64Array(c);
    let best = { loss: Infinity, epoch: 0, w: w.slice(), b: b.slice() };
    let epoch = 0;
    for (epoch = 1; epoch <= o.maxEpochs; epoch++) {
      grad.fill(0);
      for (const i of train) {
        softmax(w, b, x[i], dim, probs);
        probs[y[i]] -= 1;
        for (let k = 0; k < c; k++) {
          const g = probs[k] / train.length;
          if (g === 0) continue;
          const row = k * dim;
          for (let j = 0; j < dim; j++) grad[row + j] += g * x[i][j];
          grad[w.length + k] += g;
        }
      }
      for (let j = 0; j < w.length; j++) grad[j] += o.l2 * w[j];
      adam.step(grad, (i, delta) => (i < w.length ? (w[i] -= delta) : (b[i - w.length] -= delta)));
      const monitored = validation.length > 0 ? validation : train;
      const loss = crossEntropy(w, b, x, y, monitored, dim, c);
      if (loss < best.loss - 1e-7) best = { loss, epoch, w: w.slice(), b: b.slice() };
      else if (validation.length > 0 && epoch - best.epoch >= o.patience) break;
    }
    const accuracy = (rows: readonly number[]): number =>
      rows.length === 0 ? 0 : rows.filter((i) => argmax(softmax(best.w, best.b, x[i], dim, new Float64Array(c))) === y[i]).length / rows.length;
    const report: LinearProbeReport = {
      validationAccuracy: validation.length > 0 ? accuracy(validation) : null,
      trainAccuracy: accuracy(train),
      epochs: Math.min(epoch, o.maxEpochs),
      bestEpoch: best.epoch,
      trainSize: train.length,
      validationSize: validation.length,
    };
    return new LinearProbe(classes, dim, mean, invStd, best.w, best.b, report);
  }

  predict(vector: Float32Array): Prediction {
    if (vector.length !== this.dim) throw new MoxingError('BAD_ARGUMENT', `expected a ${this.dim}-d feature, got ${vector.length}-d`);
    const x = Float64Array.from(vector, (v, j) => (v - this.mean[j]) * this.invStd[j]);
    return toPrediction(this.classes, softmax(this.weights, this.bias, x, this.dim, new Float64Array(this.classes.length)));
  }
}

/** A seeded, per-class (stratified) split; a class with a single example stays in training. */
function split(y: Int32Array, classes: number, fraction: number, seed: number): { train: number[]; validation: number[] } {
  let state = (seed >>> 0) + 0x9e3779b9;
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const train: number[] = [];
  const validation: number[] = [];
  for (let k = 0; k < classes; k++) {
    const rows = [...y.keys()].filter((i) => y[i] === k);
    for (let i = rows.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [rows[i], rows[j]] = [rows[j], rows[i]];
    }
    const held = rows.length < 2 ? 0 : Math.min(rows.length - 1, Math.round(rows.length * fraction));
    validation.push(...rows.slice(0, held));
    train.push(...rows.slice(held));
  }
  return { train: train.sort((a, b) => a - b), validation: validation.sort((a, b) => a - b) };
}

function softmax(w: Float64Array, b: Float64Array, x: Float64Array, dim: number, out: Float64Array): Float64Array {
  let max = -Infinity;
  for (let k = 0; k < out.length; k++) {
    let z = b[k];
    const row = k * dim;
    for (let j = 0; j < dim; j++) z += w[row + j] * x[j];
    out[k] = z;
    if (z > max) max = z;
  }
  let sum = 0;
  for (let k = 0; k < out.length; k++) sum += out[k] = Math.exp(out[k] - max);
  for (let k = 0; k < out.length; k++) out[k] /= sum;
  return out;
}

function crossEntropy(w: Float64Array, b: Float64Array, x: readonly Float64Array[], y: Int32Array, rows: readonly number[], dim: number, c: number): number {
  const p = new Float64Array(c);
  let loss = 0;
  for (const i of rows) loss -= Math.log(Math.max(softmax(w, b, x[i], dim, p)[y[i]], 1e-12));
  return loss / rows.length;
}

function argmax(values: Float64Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Adam (Kingma & Ba) with the usual betas; `apply(i, delta)` subtracts delta from parameter i. */
class Adam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;

  constructor(
    size: number,
    private readonly lr: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly eps = 1e-8,
  ) {
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
  }

  step(grad: Float64Array, apply: (i: number, delta: number) => void): void {
    this.t++;
    const c1 = 1 - this.beta1 ** this.t;
    const c2 = 1 - this.beta2 ** this.t;
    for (let i = 0; i < grad.length; i++) {
      this.m[i] = this.beta1 * this.m[i] + (1 - this.beta1) * grad[i];
      this.v[i] = this.beta2 * this.v[i] + (1 - this.beta2) * grad[i] * grad[i];
      apply(i, (this.lr * (this.m[i] / c1)) / (Math.sqrt(this.v[i] / c2) + this.eps));
    }
  }
}
