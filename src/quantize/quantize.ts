/**
 * `quantizeModelDir`: writes a q8 or q4 copy of every float32 `onnx/*.onnx` of an export folder next to it,
 * with the suffixes the real exports use. Each file is written to a temporary name and renamed, so a failure
 * never leaves a partial file behind.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { MoxingError } from '../errors.js';
import { VARIANT_SUFFIXES } from '../hub/variants.js';
import { decodeModel, encodeModel, onnx, type ModelProto } from '../runtime/onnx/index.js';
import { resolveQuantizeOptions, type QuantizeOptions, type ResolvedQuantize } from './options.js';
import { rewriteModel, type RewriteStats } from './rewrite.js';

/** Suffixes of files that are variants already (the catalogue's, and other names the exports use). */
const VARIANT_FILE = /_(quantized|q4|q4f16|fp16|int8|uint8|bnb4)\.onnx$/;

export interface QuantizedFile extends RewriteStats {
  readonly input: string;
  readonly output: string;
  readonly inputBytes: number;
  readonly outputBytes: number;
}

/** Quantizes one decoded model in place (exported for tests and tools that hold a ModelProto). */
export function quantizeModel(model: ModelProto, options: Partial<QuantizeOptions> = {}): RewriteStats {
  const settings = resolveQuantizeOptions(options);
  const stats = rewriteModel(model, settings);
  if ((settings.method === 'matmulnbits' || settings.headBits || stats.activationMatMuls > 0) && !(model.opsetImport ?? []).some((o) => o.domain === 'com.microsoft')) {
    model.opsetImport = [...(model.opsetImport ?? []), onnx.OperatorSetIdProto.create({ domain: 'com.microsoft', version: 1 })];
  }
  return stats;
}

/** The output path for `input` (an fp32 `.onnx`) at `to`. */
export function quantizedPath(input: string, to: ResolvedQuantize['to']): string {
  return input.replace(/\.onnx$/, `${VARIANT_SUFFIXES[to]}.onnx`);
}

export function quantizeFile(input: string, output: string, options: Partial<QuantizeOptions> = {}): QuantizedFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(input);
  } catch (cause) {
    throw new MoxingError('FILE_NOT_FOUND', `cannot read ${input}: ${(cause as Error).message}. Check the path.`, { cause });
  }
  let model: ModelProto;
  try {
    model = decodeModel(bytes);
  } catch (cause) {
    throw new MoxingError('MODEL_INVALID', `${input} is not a readable ONNX model: ${(cause as Error).message}`, { cause });
  }
  let stats: RewriteStats;
  try {
    stats = quantizeModel(model, options);
  } catch (error) {
    if (error instanceof MoxingError) throw new MoxingError(error.code, `${input}: ${error.message}`, { cause: error });
    throw error;
  }
  const encoded = encodeModel(model);
  writeAtomically(output, encoded);
  return { input, output, inputBytes: bytes.length, outputBytes: encoded.length, ...stats };
}

/** The float32 ONNX files of an export folder (`DIR/onnx/*.onnx` or, failing that, `DIR/*.onnx`). */
export function fp32Files(dir: string): string[] {
  if (!existsSync(dir)) throw new MoxingError('FILE_NOT_FOUND', `model folder ${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw new MoxingError('BAD_ARGUMENT', `${dir} is not a folder: pass the export folder (the one holding onnx/)`);
  const onnxDir = existsSync(join(dir, 'onnx')) ? join(dir, 'onnx') : dir;
  const all = readdirSync(onnxDir).filter((f) => f.endsWith('.onnx'));
  const fp32 = all.filter((f) => !VARIANT_FILE.test(f)).map((f) => join(onnxDir, f));
  if (fp32.length === 0) {
    const why = all.length > 0 ? `only quantized or fp16 files (${all.join(', ')}); quantize needs the float32 export` : 'no .onnx files';
    throw new MoxingError('MODEL_INVALID', `${onnxDir} has ${why}`);
  }
  return fp32.sort();
}

export interface QuantizeDirOptions extends Partial<QuantizeOptions> {
  /** Called after each file is written. */
  readonly onFile?: (file: QuantizedFile) => void;
}

export function quantizeModelDir(dir: string, options: QuantizeDirOptions = {}): QuantizedFile[] {
  const { onFile, ...rest } = options;
  const settings = resolveQuantizeOptions(rest);
  const inputs = fp32Files(dir);
  const plan = inputs.map((input) => ({ input, output: quantizedPath(input, settings.to) }));
  if (!settings.force) {
    const existing = plan.filter((p) => existsSync(p.output)).map((p) => basename(p.output));
    if (existing.length > 0) {
      throw new MoxingError('BAD_ARGUMENT', `${existing.join(', ')} already exist in ${dir}: pass --force to overwrite`);
    }
  }
  return plan.map(({ input, output }) => {
    const done = quantizeFile(input, output, rest);
    onFile?.(done);
    return done;
  });
}

function writeAtomically(path: string, data: Uint8Array): void {
  const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    writeFileSync(temp, data);
    renameSync(temp, path);
  } catch (cause) {
    rmSync(temp, { force: true });
    throw new MoxingError('OUTPUT_FAILED', `could not write ${path}: ${(cause as Error).message}. Check that the folder is writable and has space.`, { cause });
  }
}
