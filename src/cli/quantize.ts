/**
 * `moxing quantize MODEL_DIR --to q8|q4`: writes `onnx/<name>_quantized.onnx` (q8) or `onnx/<name>_q4.onnx` (q4)
 * next to every float32 file of a local export, which `--variant q8|q4` then picks up.
 */
import type { Command } from 'commander';
import { DEFAULT_QUANTIZE, QUANTIZE_METHODS, QUANTIZE_TARGETS, quantizeModelDir, type QuantizeMethod, type QuantizeTarget } from '../quantize/index.js';
import { parseChoice, parseInteger } from './options.js';

interface QuantizeCliOptions {
  to: QuantizeTarget;
  method?: QuantizeMethod;
  blockSize: number;
  symmetric: boolean;
  accuracyLevel: number;
  activationMatmuls?: boolean;
  force: boolean;
}

export function register(program: Command): void {
  program
    .command('quantize')
    .description('write q8 (_quantized) or q4 (_q4) copies of the float32 ONNX files of a local model folder')
    .argument('<model-dir>', 'a local export folder (with onnx/*.onnx float32 files)')
    .option('--to <target>', `target: ${QUANTIZE_TARGETS.join(', ')}`, parseChoice('--to', QUANTIZE_TARGETS), DEFAULT_QUANTIZE.to)
    .option('--method <method>', `${QUANTIZE_METHODS.join(' or ')} (default: dynamic for q8, matmulnbits for q4)`, parseChoice('--method', QUANTIZE_METHODS))
    .option('--block-size <n>', 'MatMulNBits weights per scale', parseInteger('--block-size', 16, 4096), DEFAULT_QUANTIZE.blockSize)
    .option('--symmetric', 'MatMulNBits blocks without zero points', DEFAULT_QUANTIZE.symmetric)
    .option('--accuracy-level <n>', 'MatMulNBits accuracy_level (0: float activations, 4: int8 activations)', parseInteger('--accuracy-level', 0, 4), DEFAULT_QUANTIZE.accuracyLevel)
    .option('--activation-matmuls', 'dynamic: also quantize the attention scores Q·Kᵀ of encoders (faster, slightly less exact; default: weights only)')
    .option('--force', 'overwrite existing quantized files', DEFAULT_QUANTIZE.force)
    .action((dir: string, { activationMatmuls, ...options }: QuantizeCliOptions) => {
      quantizeModelDir(dir, {
        ...options,
        activationMatMuls: activationMatmuls,
        onFile: (f) => {
          const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
          process.stdout.write(`${f.output}  ${mb(f.inputBytes)} MB -> ${mb(f.outputBytes)} MB  (${f.matmuls} weight MatMuls, ${f.activationMatMuls} activation MatMuls, ${f.embeddings} embeddings)\n`);
        },
      });
    });
}
