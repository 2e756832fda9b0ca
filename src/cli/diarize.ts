/**
 * `moxing diarize AUDIO...`: who spoke when. Prints each file's turns, and with `-o DIR` writes them as RTTM,
 * JSON or text (all files or none). Speaker models: pyannote segmentation-3.0 and a WeSpeaker or 3D-Speaker
 * embedding model, by alias, hub id, folder or .onnx file.
 */
import type { Command } from 'commander';
import { basename, extname, join } from 'node:path';
import { decodeAudio } from '../audio/index.js';
import { writeFilesAtomically, type OutputFile } from '../atomic-write.js';
import type { Device } from '../runtime/index.js';
import { DEFAULT_EMBEDDING_MODEL, DEFAULT_PIPELINE, DEFAULT_SEGMENTATION_MODEL, DIARIZATION_FORMATS, formatDiarization, loadDiarizer, type DiarizationFormat, type DiarizeOptions } from '../speakers/index.js';
import { ALLOW_TRUNCATED_FLAG, audioInput, checkStdinOnce, readInput, type AudioInputCliOptions } from './audio-input.js';
import { addFlags, fieldsOf, type Flag } from './flags.js';
import { parseChoice, parseInteger, parseNumber } from './options.js';

/** The diarization flags, keyed by DiarizeOptions' fields (shared with `transcribe --diarize`). */
export const DIARIZE_FLAGS: readonly Flag[] = [
  { field: 'numSpeakers', value: '<n>', description: 'exactly this many speakers (overrides --threshold)', parse: parseInteger('--num-speakers', 1, 100) },
  { field: 'minSpeakers', value: '<n>', description: 'at least this many speakers', parse: parseInteger('--min-speakers', 1, 100) },
  { field: 'maxSpeakers', value: '<n>', description: 'at most this many speakers', parse: parseInteger('--max-speakers', 1, 100) },
  { field: 'threshold', value: '<d>', description: 'clustering threshold on cosine distance: larger, fewer speakers', parse: parseNumber('--threshold', 0.001, 2) },
  { field: 'minDurationOn', value: '<s>', description: 'drop turns not longer than this', parse: parseNumber('--min-duration-on', 0) },
  { field: 'minDurationOff', value: '<s>', description: 'close gaps within a speaker up to this long', parse: parseNumber('--min-duration-off', 0) },
  { field: 'windowStep', value: '<ratio>', description: 'segmentation window step, as a fraction of the 10 s window', parse: parseNumber('--window-step', 0.01, 1) },
];

interface DiarizeCliOptions extends AudioInputCliOptions {
  outputFormat: DiarizationFormat;
  outputDir?: string;
  segmentationModel: string;
  embeddingModel: string;
  threads?: number;
  device: Device;
}

export function register(program: Command): void {
  const command = program
    .command('diarize')
    .description('who spoke when: speaker turns of audio/video files (pyannote segmentation + speaker embeddings + clustering)')
    .argument('<audio...>', 'audio or video files (- reads standard input)')
    .option('-f, --output-format <format>', `${DIARIZATION_FORMATS.join(', ')}`, parseChoice('--output-format', DIARIZATION_FORMATS), 'rttm')
    .option('-o, --output-dir <dir>', 'write AUDIO_NAME.<format> files here instead of printing')
    .option('--segmentation-model <model>', 'pyannote segmentation: alias, hub id, folder or .onnx file', DEFAULT_SEGMENTATION_MODEL)
    .option('--embedding-model <model>', 'speaker embeddings (wespeaker-resnet34, campplus): alias, hub id, folder or .onnx file', DEFAULT_EMBEDDING_MODEL)
    .option('--threads <n>', 'CPU threads', parseInteger('--threads', 1, 1024))
    .option('--device <device>', 'cpu or cuda', parseChoice('--device', ['cpu', 'cuda'] as const), 'cpu')
    .option(...ALLOW_TRUNCATED_FLAG);
  addFlags(command, DIARIZE_FLAGS, DEFAULT_PIPELINE).action(async (files: string[], options: DiarizeCliOptions, cmd: Command) => {
    checkStdinOnce(files);
    const diarizeOptions = fieldsOf<DiarizeOptions>(cmd, DIARIZE_FLAGS);
    const diarizer = await loadDiarizer({
      segmentationModel: options.segmentationModel,
      embeddingModel: options.embeddingModel,
      runtime: { device: options.device, intraOpThreads: options.threads },
    });
    const outputs: OutputFile[] = [];
    for (const file of files) {
      const audio = await decodeAudio(await readInput(file), audioInput(file, options));
      const result = await diarizer.diarize(audio, diarizeOptions);
      const name = file === '-' ? 'stdin' : basename(file, extname(file));
      const text = formatDiarization(result, options.outputFormat, name);
      if (options.outputDir === undefined) process.stdout.write(text);
      else outputs.push({ path: join(options.outputDir, `${name}.${options.outputFormat}`), content: text });
      process.stderr.write(`${file}: ${result.speakers.length} speakers, ${result.segments.length} turns\n`);
    }
    if (outputs.length > 0) await writeFilesAtomically(outputs);
  });
}
