/**
 * Every CLI command, one module each, loaded only when it runs: a module imports what its command needs (ONNX
 * Runtime, sharp, SQLite), so `moxing --version`, `--help` and `moxing calc` never load what they do not use.
 * A command module exports `register(program: Command): void`.
 */
import type { Command } from 'commander';

export type RegisterCommand = (program: Command) => void;

export interface CommandEntry {
  /** The name typed after `moxing`. */
  readonly name: string;
  /** One line for `moxing --help`; the command's own help says the rest. */
  readonly summary: string;
  readonly load: () => Promise<{ register: RegisterCommand }>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: 'transcribe', summary: 'transcribe or translate audio/video files with Whisper (any format ffmpeg reads; WAV without it)', load: () => import('./transcribe.js') },
  { name: 'pull', summary: 'download a model (alias, owner/name[@revision]) into the cache so it works offline', load: () => import('./pull.js') },
  { name: 'models', summary: 'list the model catalogue (aliases, repos, download sizes) and the models in the cache', load: () => import('./models.js') },
  { name: 'calc', summary: 'transformer math: parameters, training and inference cost, memory fit', load: () => import('./calc.js') },
  { name: 'align', summary: 'give each word of a known transcript its time in the audio (CTC forced alignment, as WhisperX)', load: () => import('./align.js') },
  { name: 'embed', summary: 'embed images with DINOv2/DINO (CLS, mean of patch tokens, or both) as JSON or .npy', load: () => import('./embed.js') },
  { name: 'index', summary: 'embed every image under DIR into the image index (only new or changed files are embedded again)', load: () => import('./index-cmd.js') },
  { name: 'search', summary: 'find the images in the index most similar to IMAGE', load: () => import('./search.js') },
  { name: 'dedupe', summary: 'find groups of near-duplicate images under DIR (cosine similarity >= --threshold)', load: () => import('./dedupe.js') },
  { name: 'classify', summary: 'label images from a training folder with one subfolder per class (k-NN by default, --linear for a linear probe)', load: () => import('./classify.js') },
  { name: 'viz', summary: 'pictures of what the model sees: PCA of patch features, CLS attention per head', load: () => import('./viz.js') },
  { name: 'diarize', summary: 'who spoke when: speaker turns as RTTM, JSON or text (pyannote segmentation + speaker embeddings)', load: () => import('./diarize.js') },
  { name: 'vad', summary: 'find speech regions in an audio/video file with Silero VAD v5 (faster-whisper rules)', load: () => import('./vad.js') },
  { name: 'quantize', summary: 'write q8 (_quantized) or q4 (_q4) copies of the float32 ONNX files of a local model folder', load: () => import('./quantize.js') },
  { name: 'listen', summary: 'live transcription of the microphone, a file paced in real time or PCM on stdin (in-process or --url a server)', load: () => import('./listen.js') },
  { name: 'chat', summary: 'chat with a language model (ONNX or GGUF): one answer, or a streaming REPL on a terminal', load: () => import('./chat.js') },
  { name: 'generate', summary: 'raw completion of a prompt with a language model (no chat template)', load: async () => ({ register: (await import('./chat.js')).registerGenerate }) },
  { name: 'serve', summary: 'serve the HTTP API: /v1/audio/* (OpenAI-compatible Whisper), /v1/images/* (DINOv2), /v1/calc/*; see README "Security"', load: () => import('./serve.js') },
  { name: 'worker', summary: 'run transcription jobs from the Redis queue of moxing serve --queue (on this or another machine)', load: () => import('./worker.js') },
];
