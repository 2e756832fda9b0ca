/** `moxing serve`: the HTTP API (speech, image and transformer-math routes) on a host and port, under the security rules. */
import type { Command } from 'commander';
import { parseBytes } from '../calc/units.js';
import { DEFAULT_SECURITY, isLoopbackHost, LOOPBACK_HOSTS, resolveSecurityOptions, type SecurityOptions } from '../server/options.js';
import { DEFAULT_MODEL_POOL, type ModelPoolSettings } from '../server/model-pool.js';
import { DEFAULT_SPEECH_MODELS } from '../server/speech-defaults.js';
import type { SpeechModelsOptions } from '../server/speech-models.js';
import { addFlags, fieldsOf, type Flag } from './flags.js';
import { parseInteger } from './options.js';
import { SERVE_JOB_FLAGS } from './job-flags.js';
import { REALTIME_FLAG_DEFAULTS, REALTIME_FLAGS, realtimeOptions } from './realtime-flags.js';
import { DEFAULT_JOBS, type JobOptions } from '../jobs/options.js';
import type { RemoteImageOptions } from '../chat/remote-images.js';
import { MoxingError } from '../errors.js';

interface ServeCliOptions extends Partial<SecurityOptions> {
  host: string;
  port: number;
  model: string[];
  chatModel: string[];
  allowedHost: string[];
  cors: string[];
  imagesModel?: string;
  index?: string;
  classifyTrain?: string;
  imageRoot?: string;
  segmentationModel?: string;
  embeddingModel?: string;
  allowRemoteImages?: boolean;
  allowPrivateRemoteImages?: boolean;
  principles?: string;
  log: boolean;
}

type NumericSecurityField = {
  [K in keyof SecurityOptions]: SecurityOptions[K] extends number ? K : never;
}[keyof SecurityOptions];

/** The numeric limits, flagged by their library names (requestTimeoutMs → --request-timeout-ms). */
const LIMIT_FLAGS: readonly (readonly [NumericSecurityField, string, 'count' | 'ms' | 'bytes'])[] = [
  ['requestTimeoutMs', 'time to receive a whole request, headers and body', 'ms'],
  ['connectionTimeoutMs', 'idle time before a connection is closed', 'ms'],
  ['handlerTimeoutMs', 'time a request may work before it is answered 503', 'ms'],
  ['maxConcurrentWork', 'model work (inference, image decoding) running at once', 'count'],
  ['maxQueuedWork', 'requests waiting for model work; past it 429 with Retry-After', 'count'],
  ['rateLimitPerMinute', 'requests per client address per minute (0: off)', 'count'],
  ['bodyLimitBytes', 'JSON body limit (e.g. 1MiB)', 'bytes'],
  ['imageBodyLimitBytes', 'body limit of the image routes', 'bytes'],
  ['maxImagePixels', 'pixels one image may have', 'count'],
  ['maxRemoteModelBytes', 'with --allow-remote-models: largest file fetched', 'bytes'],
  ['shutdownGraceMs', 'on SIGINT/SIGTERM, time running requests get before connections are cut', 'ms'],
];

/** Speech models: loading on demand (server/model-pool.ts) and cross-request batching, flagged by the library's names. */
const POOL_FLAGS: readonly Flag[] = [
  { field: 'modelTtl', value: '<seconds>', description: 'unload a speech model idle this long (0: when its last request is done, -1: never)', parse: parseInteger('--model-ttl', -1) },
  { field: 'modelMemory', value: '<bytes>', description: 'memory the loaded models may take together (e.g. 4GiB, from their ONNX files); the least recently used idle ones are unloaded first (default: no limit)', parse: (v) => parseBytes(v, '--model-memory') },
  { field: 'preload', description: 'load the served speech models at start-up and keep them loaded (GET /ready answers 503 until then)' },
  { field: 'crossRequestBatching', negatable: true, description: 'decode each request alone instead of batching the windows of concurrent requests to one model' },
  { field: 'maxBatchWindows', value: '<n>', description: 'windows in one cross-request batch at most', parse: parseInteger('--max-batch-windows', 1, 256) },
  { field: 'batchGatherMs', value: '<ms>', description: 'how long a window waits for others to join its batch', parse: parseInteger('--batch-gather-ms', 0, 10_000) },
];

const kebab = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function register(program: Command): void {
  const command = program
    .command('serve')
    .description('serve the HTTP API: /v1/audio/* (OpenAI-compatible Whisper), /v1/images/* (DINOv2), /v1/calc/* (transformer math); see README "Security"')
    .option('--host <host>', 'address to listen on (0.0.0.0 for every interface: set --api-key)', '127.0.0.1')
    .option('--port <port>', 'TCP port', parseInteger('--port', 0, 65535), 8080)
    .option('--api-key <key>', 'require Authorization: Bearer KEY on every route but /health (default: $MOXING_API_KEY)')
    .option('--allowed-host <name>', `Host header name to answer, repeatable; "any" turns the check off (default: ${LOOPBACK_HOSTS.join(', ')} on a loopback bind, any otherwise)`, collect, [])
    .option('--cors <origin>', 'allow browser calls from this origin, repeatable (default: none)', collect, [])
    .option('--model <model>', 'a model requests may name (alias, hub id or folder), repeatable; the first Whisper is /v1/audio/*\'s default (whisper-1); a sentence-embedding export serves /v1/embeddings', collect, [])
    .option('--chat-model <model>', 'a chat model /v1/chat/completions and /v1/completions serve (ONNX folder or hub id, a GGUF file, or owner/name:Q4_K_M), repeatable; a GGUF also serves /v1/embeddings', collect, [])
    .option('--allow-remote-models', 'let requests name hub ids that are not served (downloads are size-capped)')
    .option('--allow-remote-images', 'fetch chat image parts given as http(s) URLs (public addresses only; size- and time-capped)')
    .option('--allow-private-remote-images', 'with --allow-remote-images: also from loopback and private addresses (a LAN image server)')
    .option('--principles <file>', 'principles every chat answer follows, one per line: in the system prompt, then a critique and a rewrite of each answer')
    .option('--public-metrics', 'GET /metrics answers without the API key (for a scraper that cannot send one; /health and /ready always do)')
    .option('--images-model <model>', 'vision model for /v1/images/* (default: dinov2-small)')
    .option('--index <location>', 'image index for /v1/images/search: a folder (moxing index) or a postgres:// URL')
    .option('--image-root <dir>', 'search results name images relative to this folder (default: the working folder)')
    .option('--classify-train <dir>', 'training folder (one subfolder per class) for /v1/images/classify')
    .option('--segmentation-model <model>', 'pyannote segmentation for /v1/audio/diarization and diarized_json (default: pyannote-segmentation-3.0)')
    .option('--embedding-model <model>', 'speaker embeddings for /v1/audio/diarization and diarized_json (default: wespeaker-resnet34)')
    .option('--no-log', 'do not log requests');
  for (const [field, description, unit] of LIMIT_FLAGS) {
    const flag = `--${kebab(field)}`;
    const parse = unit === 'bytes' ? (v: string) => parseBytes(v, flag) : parseInteger(flag, field === 'rateLimitPerMinute' || field === 'maxQueuedWork' ? 0 : 1);
    command.option(`${flag} <${unit === 'count' ? 'n' : unit}>`, `${description} (default: ${DEFAULT_SECURITY[field]})`, parse);
  }
  addFlags(command, POOL_FLAGS, { ...DEFAULT_MODEL_POOL, ...DEFAULT_SPEECH_MODELS });
  addFlags(command, SERVE_JOB_FLAGS, DEFAULT_JOBS);
  addFlags(command, REALTIME_FLAGS, REALTIME_FLAG_DEFAULTS);
  command.action(async (options: ServeCliOptions, cmd: Command) => {
    const pool = fieldsOf<ModelPoolSettings & SpeechModelsOptions>(cmd, POOL_FLAGS);
    const jobs = fieldsOf<JobOptions>(cmd, SERVE_JOB_FLAGS);
    const { createServer } = await import('../server/index.js');
    const security = resolveSecurityOptions({
      ...Object.fromEntries(LIMIT_FLAGS.map(([field]) => [field, options[field]])),
      apiKey: options.apiKey,
      allowedHosts: allowedHosts(options),
      corsOrigins: options.cors,
      allowRemoteModels: options.allowRemoteModels,
      publicMetrics: options.publicMetrics,
    });
    const chatRemote = remoteImages(options);
    const principles = options.principles === undefined ? undefined : await (await import('../chat/principles.js')).loadPrinciples(options.principles);
    for (const warning of serveWarnings(options.host, security, jobs.allowPrivateWebhooks, chatRemote.remoteImages)) process.stderr.write(`moxing serve: warning: ${warning}\n`);
    const server = await createServer({
      host: options.host,
      port: options.port,
      logger: options.log,
      security,
      models: options.model,
      audio: pool,
      images: { model: options.imagesModel, index: options.index, classifyTrainDir: options.classifyTrain, imageRoot: options.imageRoot },
      chat: { models: options.chatModel, ...chatRemote, ...(principles ? { principles } : {}) },
      diarization: { segmentationModel: options.segmentationModel, embeddingModel: options.embeddingModel },
      realtime: realtimeOptions(fieldsOf(cmd, REALTIME_FLAGS)),
      // Jobs are on, embedded in SQLite unless --queue names a Redis.
      jobs,
    });
    const address = await server.listen();
    process.stderr.write(`moxing serving on ${address}\n`);
    let stopping = false;
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      server.close().then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`moxing serve: error while closing: ${(error as Error).message}\n`);
          process.exit(1);
        },
      );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** What an operator should hear before the server starts. */
export function serveWarnings(host: string, security: SecurityOptions, allowPrivateWebhooks = false, remote?: RemoteImageOptions): string[] {
  const warnings: string[] = [];
  if (!isLoopbackHost(host) && security.apiKey === undefined) {
    warnings.push(`listening on ${host} without an API key: anyone who can reach this port can use the server (set --api-key or MOXING_API_KEY)`);
  }
  if (security.allowRemoteModels) warnings.push('--allow-remote-models: any client can make this server download hub models (size-capped)');
  if (allowPrivateWebhooks) warnings.push('--allow-private-webhooks: any client can make this server POST to loopback and private addresses');
  if (remote?.allowPrivate) warnings.push('--allow-private-remote-images: any client can make this server GET from loopback and private addresses');
  return warnings;
}

/** The chat route's remote images, as the flags allow them. */
function remoteImages(options: ServeCliOptions): { remoteImages?: RemoteImageOptions } {
  if (options.allowPrivateRemoteImages && !options.allowRemoteImages) throw new MoxingError('BAD_ARGUMENT', '--allow-private-remote-images needs --allow-remote-images');
  return options.allowRemoteImages ? { remoteImages: { allowPrivate: options.allowPrivateRemoteImages ?? false } } : {};
}

function allowedHosts(options: ServeCliOptions): SecurityOptions['allowedHosts'] {
  if (options.allowedHost.includes('any')) return 'any';
  if (options.allowedHost.length > 0) return options.allowedHost;
  if (!isLoopbackHost(options.host)) return 'any';
  return [...new Set([...LOOPBACK_HOSTS, options.host.replace(/^\[|\]$/g, '')])];
}
