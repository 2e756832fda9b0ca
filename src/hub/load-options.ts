/**
 * The one option shape every model loader takes (Whisper, CTC, the aligners, vision, and the language models to
 * come), beside a model reference that may be a catalogue alias, a hub id `owner/name[@rev]` or a folder.
 */
import type { RuntimeOptions } from '../runtime/index.js';
import type { HubOptions } from './options.js';
import type { Variant } from './variants.js';

export interface ModelLoadOptions {
  /** Weight variant, the file-name suffix of the export: fp32, fp16, q8 or q4. @default 'fp32' */
  readonly variant?: Variant;
  /** ONNX Runtime device, threads and graph optimisation. @default DEFAULT_RUNTIME */
  readonly runtime?: RuntimeOptions;
  /** Cache folder, endpoint, token, offline switch, download progress. @default DEFAULT_HUB and the environment */
  readonly hub?: Partial<HubOptions>;
}
