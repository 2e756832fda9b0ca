/**
 * The library entry points: `diarize(input, options)` → `{ speakers, segments }`, and `loadDiarizer` to keep the
 * models loaded across inputs.
 */
import { decodeAudio } from '../audio/index.js';
import { withDefaults } from '../defaults.js';
import { MoxingError } from '../errors.js';
import type { ModelLoadOptions } from '../hub/index.js';
import { loadEmbeddingModel, type EmbeddingModel } from './embedding.js';
import { DEFAULT_EMBEDDING_MODEL, DEFAULT_SEGMENTATION_MODEL, resolveSpeakerModel } from './models.js';
import { DEFAULT_PIPELINE, nameClusters, runPipeline, type PipelineOptions } from './pipeline.js';
import { loadSegmentationModel, type SegmentationModel } from './segmentation.js';

/** Audio: a file path, the bytes of a file, or 16 kHz mono samples. */
export type AudioInput = string | Uint8Array | Float32Array;

export interface SpeakerTurn {
  /** Seconds. */
  start: number;
  end: number;
  speaker: string;
}

export interface Diarization {
  /** Speaker labels in order of first turn: SPEAKER_00, SPEAKER_01... or the known speakers' names. */
  speakers: string[];
  /** Turns sorted by start; turns of different speakers may overlap. */
  segments: SpeakerTurn[];
}

export interface KnownSpeaker {
  name: string;
  /** A sample of this speaker's voice. */
  audio: AudioInput;
}

export interface DiarizeOptions extends Partial<PipelineOptions> {
  /** Exactly this many speakers (overrides the threshold). */
  numSpeakers?: number;
  minSpeakers?: number;
  maxSpeakers?: number;
  /** Name the speakers closest to these voice samples (OpenAI's known_speaker_names/references). */
  knownSpeakers?: readonly KnownSpeaker[];
}

export interface DiarizerOptions extends ModelLoadOptions {
  /** @default 'pyannote-segmentation-3.0' */
  segmentationModel?: string;
  /** @default 'wespeaker-resnet34' */
  embeddingModel?: string;
}

export interface Diarizer {
  readonly segmentation: SegmentationModel;
  readonly embedding: EmbeddingModel;
  diarize(input: AudioInput, options?: DiarizeOptions): Promise<Diarization>;
}

async function samplesOf(input: AudioInput): Promise<Float32Array> {
  return input instanceof Float32Array ? input : decodeAudio(input);
}

/** Loads the segmentation and embedding models once. */
export async function loadDiarizer(options: DiarizerOptions = {}): Promise<Diarizer> {
  const load = { variant: options.variant, runtime: options.runtime, hub: options.hub };
  const [segmentationPath, embeddingPath] = await Promise.all([
    resolveSpeakerModel(options.segmentationModel ?? DEFAULT_SEGMENTATION_MODEL, 'segmentation', load),
    resolveSpeakerModel(options.embeddingModel ?? DEFAULT_EMBEDDING_MODEL, 'embedding', { ...load, variant: undefined }),
  ]);
  const segmentation = await loadSegmentationModel(segmentationPath, options.runtime);
  const embedding = await loadEmbeddingModel(embeddingPath, options.runtime);
  return {
    segmentation,
    embedding,
    async diarize(input, diarizeOptions = {}) {
      const { numSpeakers, minSpeakers, maxSpeakers, knownSpeakers, ...rest } = diarizeOptions;
      if (minSpeakers !== undefined && maxSpeakers !== undefined && minSpeakers > maxSpeakers) {
        throw new MoxingError('BAD_ARGUMENT', `minSpeakers (${minSpeakers}) is more than maxSpeakers (${maxSpeakers})`);
      }
      const pipeline = withDefaults(DEFAULT_PIPELINE, { ...rest, numClusters: numSpeakers, minClusters: minSpeakers, maxClusters: maxSpeakers });
      const result = await runPipeline(await samplesOf(input), segmentation, embedding, pipeline);
      const names = new Map<number, string>();
      if (knownSpeakers && knownSpeakers.length > 0) {
        const references = [];
        for (const known of knownSpeakers) {
          const embedded = await embedding.embed(await samplesOf(known.audio));
          if (!embedded) throw new MoxingError('BAD_ARGUMENT', `the voice sample of ${known.name} gives no embedding`);
          references.push({ name: known.name, embedding: embedded });
        }
        for (const [cluster, name] of nameClusters(result.centroids, references)) names.set(cluster, name);
      }
      const order = new Map<number, string>();
      for (const s of result.segments) {
        if (!order.has(s.cluster)) order.set(s.cluster, names.get(s.cluster) ?? `SPEAKER_${String(order.size).padStart(2, '0')}`);
      }
      return {
        speakers: [...order.values()],
        segments: result.segments.map((s) => ({ start: s.start, end: s.end, speaker: order.get(s.cluster) as string })),
      };
    },
  };
}

/** Who spoke when in `input`. */
export async function diarize(input: AudioInput, options: DiarizeOptions & DiarizerOptions = {}): Promise<Diarization> {
  const { segmentationModel, embeddingModel, variant, runtime, hub, ...rest } = options;
  const diarizer = await loadDiarizer({ segmentationModel, embeddingModel, variant, runtime, hub });
  return diarizer.diarize(input, rest);
}
