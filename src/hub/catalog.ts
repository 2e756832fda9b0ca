/**
 * The catalogue: short aliases for the models moxing knows, mapped to the Hugging Face repos that hold
 * their ONNX exports (checked against the hub's file lists). Sizes are approximate download sizes in MB
 * of the files moxing fetches (encoder + merged decoder for Whisper), for the `models` listing.
 */
export type ModelTask = 'whisper' | 'dinov2' | 'dino' | 'ctc';

export interface CatalogEntry {
  readonly alias: string;
  readonly repo: string;
  readonly task: ModelTask;
  readonly description: string;
  /** Approximate download size per variant, in MB; absent where the repo has no such variant or it is unknown. */
  readonly sizeMb?: Readonly<Partial<Record<'fp32' | 'fp16' | 'q8' | 'q4', number>>>;
  /** A sibling repo whose merged decoder also outputs cross attentions (word timestamps). */
  readonly timestampedRepo?: string;
}

function entry(e: CatalogEntry): CatalogEntry {
  return Object.freeze(e);
}

const WHISPER: readonly CatalogEntry[] = [
  entry({ alias: 'whisper-tiny', repo: 'onnx-community/whisper-tiny', task: 'whisper', description: 'Whisper tiny, 39M params, multilingual', sizeMb: { fp32: 152, fp16: 76, q8: 41 } }),
  entry({ alias: 'whisper-tiny.en', repo: 'onnx-community/whisper-tiny.en', task: 'whisper', description: 'Whisper tiny, 39M params, English only', sizeMb: { fp32: 152, fp16: 76, q8: 41 } }),
  entry({ alias: 'whisper-base', repo: 'onnx-community/whisper-base', task: 'whisper', description: 'Whisper base, 74M params, multilingual', sizeMb: { fp32: 290, q8: 78 }, timestampedRepo: 'onnx-community/whisper-base_timestamped' }),
  entry({ alias: 'whisper-base.en', repo: 'onnx-community/whisper-base.en', task: 'whisper', description: 'Whisper base, 74M params, English only', sizeMb: { fp32: 290, q8: 78 } }),
  entry({ alias: 'whisper-small', repo: 'onnx-community/whisper-small', task: 'whisper', description: 'Whisper small, 244M params, multilingual', sizeMb: { fp32: 970, q8: 250 }, timestampedRepo: 'onnx-community/whisper-small_timestamped' }),
  entry({ alias: 'whisper-small.en', repo: 'onnx-community/whisper-small.en', task: 'whisper', description: 'Whisper small, 244M params, English only', sizeMb: { fp32: 970, q8: 250 } }),
  entry({ alias: 'whisper-medium', repo: 'Xenova/whisper-medium', task: 'whisper', description: 'Whisper medium, 769M params, multilingual', sizeMb: { fp32: 3060, fp16: 1530, q8: 776 } }),
  entry({ alias: 'whisper-medium.en', repo: 'Xenova/whisper-medium.en', task: 'whisper', description: 'Whisper medium, 769M params, English only', sizeMb: { fp32: 3060, fp16: 1530, q8: 776 } }),
  entry({ alias: 'whisper-large-v3', repo: 'Xenova/whisper-large-v3', task: 'whisper', description: 'Whisper large-v3, 1550M params, multilingual, 128 mel bins', sizeMb: { fp32: 6190, q8: 1560 } }),
  entry({ alias: 'whisper-large-v3-turbo', repo: 'onnx-community/whisper-large-v3-turbo', task: 'whisper', description: 'Whisper large-v3-turbo, 809M params, 4 decoder layers, 128 mel bins', sizeMb: { fp32: 3240, q8: 1000 }, timestampedRepo: 'onnx-community/whisper-large-v3-turbo_timestamped' }),
];

const DINOV2_SIZES = { small: 'ViT-S/14, 22M params', base: 'ViT-B/14, 86M params', large: 'ViT-L/14, 300M params', giant: 'ViT-g/14, 1.1B params' } as const;
const DINOV2_MB = { small: 88, base: 347, large: 1220, giant: 4540 } as const;

const VISION: readonly CatalogEntry[] = [
  ...(Object.keys(DINOV2_SIZES) as (keyof typeof DINOV2_SIZES)[]).flatMap((size) => [
    entry({ alias: `dinov2-${size}`, repo: `Xenova/dinov2-${size}`, task: 'dinov2', description: `DINOv2 ${DINOV2_SIZES[size]}, image features`, sizeMb: { fp32: DINOV2_MB[size], fp16: Math.round(DINOV2_MB[size] / 2), q8: Math.round(DINOV2_MB[size] / 3.6) } }),
    entry({ alias: `dinov2-${size}-reg`, repo: `onnx-community/dinov2-with-registers-${size}`, task: 'dinov2', description: `DINOv2 with registers ${DINOV2_SIZES[size]}, image features`, sizeMb: { fp32: DINOV2_MB[size] } }),
  ]),
  entry({ alias: 'dino-vits16', repo: 'Xenova/dino-vits16', task: 'dino', description: 'DINO ViT-S/16, 21M params, image features', sizeMb: { fp32: 87, fp16: 44, q8: 23 } }),
  entry({ alias: 'dino-vits8', repo: 'Xenova/dino-vits8', task: 'dino', description: 'DINO ViT-S/8, 21M params, image features', sizeMb: { fp32: 87, fp16: 44, q8: 23 } }),
  entry({ alias: 'dino-vitb16', repo: 'Xenova/dino-vitb16', task: 'dino', description: 'DINO ViT-B/16, 85M params, image features', sizeMb: { fp32: 343, fp16: 172, q8: 88 } }),
  entry({ alias: 'dino-vitb8', repo: 'Xenova/dino-vitb8', task: 'dino', description: 'DINO ViT-B/8, 85M params, image features' }),
];

const CTC: readonly CatalogEntry[] = [
  entry({ alias: 'wav2vec2-base-960h', repo: 'Xenova/wav2vec2-base-960h', task: 'ctc', description: 'wav2vec2 base, English CTC (forced alignment)', sizeMb: { fp32: 378, fp16: 189, q8: 95, q4: 90 } }),
];

export const CATALOG: readonly CatalogEntry[] = Object.freeze([...WHISPER, ...VISION, ...CTC]);

const BY_ALIAS: ReadonlyMap<string, CatalogEntry> = new Map(CATALOG.map((e) => [e.alias, e]));

export function catalogEntry(alias: string): CatalogEntry | undefined {
  return BY_ALIAS.get(alias.toLowerCase());
}

/** The catalogue entry whose repo is `repo`, if any (so `onnx-community/whisper-tiny` shows as whisper-tiny). */
export function catalogEntryForRepo(repo: string): CatalogEntry | undefined {
  const lower = repo.toLowerCase();
  return CATALOG.find((e) => e.repo.toLowerCase() === lower || e.timestampedRepo?.toLowerCase() === lower);
}

/** Aliases close to `name` (edit distance or shared prefix), best first, for "did you mean" messages. */
export function closeAliases(name: string, limit = 3): string[] {
  const query = name.toLowerCase();
  const scored = CATALOG.map((e) => {
    const contained = e.alias.includes(query) || query.includes(e.alias);
    return { alias: e.alias, score: contained ? 0 : editDistance(query, e.alias) };
  });
  const threshold = Math.max(3, Math.floor(query.length / 3));
  return scored
    .filter((s) => s.score <= threshold)
    .sort((a, b) => a.score - b.score || a.alias.localeCompare(b.alias))
    .slice(0, limit)
    .map((s) => s.alias);
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
