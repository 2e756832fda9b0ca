/** `moxing viz pca|attention IMAGE -o out.png`: the PCA picture of patch features, or per-head CLS attention maps. */
import { writeFilesAtomically } from '../atomic-write.js';
import type { Command } from 'commander';
import { attentionPicture, DEFAULT_ATTENTION_PICTURE, DEFAULT_PCA_PICTURE, loadImage, pcaPicture } from '../vision/index.js';
import { loadModelFromCli, withModelOptions, type ModelCliOptions } from './vision-options.js';
import { parseInteger, parseNumber } from './options.js';

/** An export that outputs the last layer's attentions (transformers.js uses it for its attention demo). */
export const DEFAULT_ATTENTION_MODEL = 'onnx-community/dinov2-with-registers-small-with-attentions';

interface VizCliOptions extends ModelCliOptions {
  output: string;
  shortEdge: number;
  threshold: number;
  keepBackground?: boolean;
  mass: number;
}

export function register(program: Command): void {
  const viz = program.command('viz').description('pictures of what the model sees: PCA of patch features, CLS attention per head');
  const pca = viz
    .command('pca')
    .description('first 3 PCA components of the patch features as RGB (background removed), beside the original')
    .argument('<image>', 'input image')
    .requiredOption('-o, --output <file>', 'PNG to write')
    .option('--short-edge <px>', 'shorter side fed to the model (rounded to whole patches)', parseInteger('--short-edge', 14, 4096), DEFAULT_PCA_PICTURE.shortEdge)
    .option('--threshold <t>', 'background threshold on the first component, in [0, 1]', parseNumber('--threshold', 0, 1), DEFAULT_PCA_PICTURE.backgroundThreshold)
    .option('--keep-background', 'do not remove the background');
  withModelOptions(pca).action(async (image: string, options: VizCliOptions) => {
    const picture = await loadImage(image);
    const model = await loadModelFromCli(options);
    const { png } = await pcaPicture(model, picture, { shortEdge: options.shortEdge, backgroundThreshold: options.threshold, removeBackground: !options.keepBackground });
    await writeFilesAtomically([{ path: options.output, content: png }]);
    process.stderr.write(`wrote ${options.output}\n`);
  });

  const attention = viz
    .command('attention')
    .description("last-layer CLS attention of each head, thresholded at DINO's attention mass, as overlays")
    .argument('<image>', 'input image')
    .requiredOption('-o, --output <file>', 'PNG to write')
    .option('--short-edge <px>', 'shorter side fed to the model (rounded to whole patches)', parseInteger('--short-edge', 14, 4096), DEFAULT_ATTENTION_PICTURE.shortEdge)
    .option('--mass <share>', 'keep the most attended patches holding this share of the attention', parseNumber('--mass', 0.01, 1), DEFAULT_ATTENTION_PICTURE.massThreshold);
  withModelOptions(attention, DEFAULT_ATTENTION_MODEL, ' with an attentions output').action(async (image: string, options: VizCliOptions) => {
    const picture = await loadImage(image);
    const model = await loadModelFromCli(options);
    const { png, maps } = await attentionPicture(model, picture, { shortEdge: options.shortEdge, massThreshold: options.mass });
    await writeFilesAtomically([{ path: options.output, content: png }]);
    process.stderr.write(`wrote ${options.output} (${maps.heads} heads, ${maps.gridWidth}x${maps.gridHeight} patches)\n`);
  });
}
