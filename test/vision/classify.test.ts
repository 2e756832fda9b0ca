import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { classifierFromVectors, KnnClassifier, LinearProbe, type LabeledVectors } from '../../src/vision/index.js';

/** A seeded normal generator (mulberry32 + Box-Muller), so the clusters are the same on every run. */
function gaussians(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

/**
 * Gaussian clusters: `classes` random unit centres in `dim` dimensions, points = centre + N(0, spread²) noise.
 * With spread 0.12 in 64-d, the noise norm (~0.96) is about the centres' distance (~1.4): overlapping enough that
 * a classifier has to work, separable enough that both should pass 95%.
 */
function clusters(seed: number, classes: number, perClass: number, dim: number, spread: number): LabeledVectors {
  const gaussian = gaussians(seed);
  const centres = Array.from({ length: classes }, () => {
    const c = Float32Array.from({ length: dim }, gaussian);
    const n = Math.hypot(...c);
    return c.map((x) => x / n);
  });
  const vectors: Float32Array[] = [];
  const labels: string[] = [];
  for (let i = 0; i < perClass; i++) {
    centres.forEach((c, k) => {
      vectors.push(c.map((x) => x + spread * gaussian()));
      labels.push(`class${k}`);
    });
  }
  return { vectors, labels };
}

function accuracy(predict: (v: Float32Array) => { label: string }, data: LabeledVectors): number {
  return data.vectors.filter((v, i) => predict(v).label === data.labels[i]).length / data.vectors.length;
}

describe('classifiers on synthetic Gaussian clusters', () => {
  // Train and test share their centres: draw once, then split.
  const all = clusters(3, 8, 85, 64, 0.12);
  const trainSet: LabeledVectors = { vectors: all.vectors.slice(0, 8 * 60), labels: all.labels.slice(0, 8 * 60) };
  const heldOut: LabeledVectors = { vectors: all.vectors.slice(8 * 60), labels: all.labels.slice(8 * 60) };

  test('DINO weighted k-NN (k 20, T 0.07) reaches >= 95%', () => {
    const knn = new KnnClassifier(trainSet);
    assert.deepEqual(knn.options, { k: 20, temperature: 0.07 });
    const acc = accuracy((v) => knn.predict(v), heldOut);
    assert.ok(acc >= 0.95, `k-NN accuracy ${acc}`);
  });

  test('linear probe reaches >= 95%, reports its held-out accuracy, stops early', () => {
    const probe = LinearProbe.train(trainSet);
    const acc = accuracy((v) => probe.predict(v), heldOut);
    assert.ok(acc >= 0.95, `linear accuracy ${acc}`);
    const r = probe.report;
    assert.ok(r.validationAccuracy !== null && r.validationAccuracy >= 0.95, `held-out ${r.validationAccuracy}`);
    assert.equal(r.trainSize + r.validationSize, trainSet.vectors.length);
    assert.equal(r.validationSize, 8 * 12); // 20% of each class
    assert.ok(r.bestEpoch <= r.epochs);
  });

  test('the vote weights follow exp(sim / T): a closer neighbour outweighs two farther ones', () => {
    const v = (x: number, y: number) => Float32Array.from([x, y]);
    const knn = new KnnClassifier({ vectors: [v(1, 0.05), v(1, 0.5), v(1, 0.5)], labels: ['near', 'far', 'far'] }, { k: 3 });
    const p = knn.predict(v(1, 0));
    assert.equal(p.label, 'near');
    const sims = [Math.cos(Math.atan(0.05)), Math.cos(Math.atan(0.5))];
    const w = sims.map((s) => Math.exp(s / 0.07));
    assert.ok(Math.abs(p.scores[0].score - w[0] / (w[0] + 2 * w[1])) < 1e-4);
    // With a high temperature the two votes win.
    assert.equal(new KnnClassifier({ vectors: [v(1, 0.05), v(1, 0.5), v(1, 0.5)], labels: ['near', 'far', 'far'] }, { k: 3, temperature: 10 }).predict(v(1, 0)).label, 'far');
  });

  test('a tiny temperature (0.001, 1e-6) gives finite shares summing to 1 and the nearest class, not NaN', () => {
    const v = (x: number, y: number) => Float32Array.from([x, y]);
    // The nearest class sorts last by name: NaN shares fell back to name order and picked "a-far".
    const data = { vectors: [v(1, 0.05), v(1, 0.5), v(1, 0.5)], labels: ['z-near', 'a-far', 'a-far'] };
    for (const temperature of [0.001, 1e-6]) {
      const p = new KnnClassifier(data, { k: 3, temperature }).predict(v(1, 0));
      assert.equal(p.label, 'z-near', `T ${temperature}`);
      assert.ok(p.scores.every((s) => Number.isFinite(s.score)), JSON.stringify(p.scores));
      assert.ok(Math.abs(p.scores.reduce((a, s) => a + s.score, 0) - 1) < 1e-9);
      assert.ok(p.scores[0].score > 0.999);
    }
    // Through the classifier the server uses, on real clusters: finite shares and the accuracy of T 0.07.
    const knn = classifierFromVectors(trainSet, 'knn', 'cls', { knn: { temperature: 0.001 } });
    for (const x of heldOut.vectors.slice(0, 20)) assert.ok(knn.predict(x).scores.every((s) => Number.isFinite(s.score)));
    assert.ok(accuracy((x) => knn.predict(x), heldOut) >= 0.95);
  });

  test('scores are shares that sum to 1, best first', () => {
    const knn = classifierFromVectors(trainSet, 'knn', 'cls');
    const s = knn.predict(heldOut.vectors[0]).scores.reduce((a, b) => a + b.score, 0);
    assert.ok(Math.abs(s - 1) < 1e-9);
    assert.equal(knn.classes.length, 8);
  });

  test('bad settings and data are BAD_ARGUMENT errors', () => {
    assert.throws(() => new KnnClassifier(trainSet, { k: 0 }), { code: 'BAD_ARGUMENT' });
    assert.throws(() => new KnnClassifier(trainSet, { temperature: 0 }), { code: 'BAD_ARGUMENT' });
    assert.throws(() => new KnnClassifier({ vectors: [], labels: [] }), { code: 'BAD_ARGUMENT' });
    assert.throws(() => LinearProbe.train({ vectors: trainSet.vectors.slice(0, 3), labels: ['a', 'a', 'a'] }), /at least 2 classes/);
    assert.throws(() => new KnnClassifier(trainSet).predict(new Float32Array(3)), { code: 'BAD_ARGUMENT' });
  });
});
