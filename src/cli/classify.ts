/** `moxing classify --train DIR_BY_CLASS IMAGES...`: DINO's weighted k-NN, or a linear probe with --linear. */
import type { Command } from 'commander';
import { DEFAULT_KNN, DEFAULT_LINEAR_PROBE, embedImages, POOLINGS, trainImageClassifier, type Pooling } from '../vision/index.js';
import { createCountProgress, loadModelFromCli, withModelOptions, type ModelCliOptions, output } from './vision-options.js';
import { parseChoice, parseInteger, parseNumber } from './options.js';

interface ClassifyCliOptions extends ModelCliOptions {
  train: string;
  linear?: boolean;
  k: number;
  temperature: number;
  l2: number;
  pool?: Pooling;
  top: number;
  json?: boolean;
}

export function register(program: Command): void {
  const command = program
    .command('classify')
    .description('label images from a training folder with one subfolder per class (k-NN by default, --linear for a linear probe)')
    .argument('<images...>', 'images to classify')
    .requiredOption('--train <dir>', 'training folder: DIR/<class>/<images>')
    .option('--linear', 'train a linear probe (logistic regression, L2, early stopping) instead of k-NN')
    .option('-k, --k <n>', 'k-NN: neighbours that vote', parseInteger('--k', 1, 10_000), DEFAULT_KNN.k)
    .option('--temperature <t>', 'k-NN: vote temperature', parseNumber('--temperature', 1e-6), DEFAULT_KNN.temperature)
    .option('--l2 <lambda>', 'linear probe: L2 penalty', parseNumber('--l2', 0), DEFAULT_LINEAR_PROBE.l2)
    .option('--pool <pool>', `features: ${POOLINGS.join(', ')} (default: cls for k-NN, cls+mean for --linear)`, parseChoice('--pool', POOLINGS))
    .option('--top <n>', 'classes shown per image', parseInteger('--top', 1, 1000), 1)
    .option('--json', 'print predictions as JSON');
  withModelOptions(command).action(async (images: string[], options: ClassifyCliOptions) => {
    const model = await loadModelFromCli(options);
    const progress = createCountProgress('train');
    const classifier = await trainImageClassifier(model, options.train, {
      method: options.linear ? 'linear' : 'knn',
      pool: options.pool,
      knn: { k: options.k, temperature: options.temperature },
      linear: { l2: options.l2 },
      onProgress: progress.update,
    }).finally(() => progress.stop());
    const report = classifier.report;
    if (report && !options.json) {
      const accuracy = report.validationAccuracy === null ? 'n/a (too few images per class to hold any out)' : `${(100 * report.validationAccuracy).toFixed(1)}%`;
      process.stderr.write(`linear probe: held-out accuracy ${accuracy} on ${report.validationSize} images (train ${(100 * report.trainAccuracy).toFixed(1)}% on ${report.trainSize}), best epoch ${report.bestEpoch} of ${report.epochs}\n`);
    }
    const vectors = await embedImages(model, images, { pool: classifier.pool });
    const predictions = images.map((path, i) => ({ path, ...classifier.predict(vectors[i]) }));
    if (options.json) {
      output.write(`${JSON.stringify({ method: classifier.method, classes: classifier.classes, report, predictions }, null, 2)}\n`);
      return;
    }
    for (const p of predictions) {
      const shown = p.scores.slice(0, options.top).map((s) => `${s.label} (${s.score.toFixed(3)})`).join(', ');
      output.write(`${p.path}\t${shown}\n`);
    }
  });
}
