/**
 * The server's Prometheus metrics (GET /metrics), in a prom-client Registry of their own: several apps in one
 * process (tests, a library user) never share or clash over counters. Requests are labelled by their route
 * pattern (`/v1/jobs/:id`), never the raw URL, so a client cannot grow the label set. Other parts report
 * through the methods here (jobs: observeJob, trackQueueDepth; speech: observeTranscription, the pool hooks).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import type { ModelPool } from './model-pool.js';
import type { WorkLimiter } from './work-limiter.js';

/** Seconds: from a 5 ms answer to a 10 min transcription. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/** Processing seconds per audio second: well under 1 is faster than real time. */
const RTF_BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5, 10];

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly requestSeconds: Histogram<'method' | 'route'>;
  private readonly jobSeconds: Histogram<'status'>;
  private readonly audioSeconds: Counter<'task'>;
  private readonly realTimeFactor: Histogram<'task'>;
  private readonly modelLoadSeconds: Histogram;
  private queueDepth: () => number | Promise<number> = () => 0;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({ name: 'moxing_http_requests_total', help: 'HTTP requests answered, by route pattern and status', labelNames: ['method', 'route', 'status'], registers });
    this.requestSeconds = new Histogram({ name: 'moxing_http_request_duration_seconds', help: 'Time to answer a request, by route pattern', labelNames: ['method', 'route'], buckets: DURATION_BUCKETS, registers });
    this.jobSeconds = new Histogram({ name: 'moxing_job_duration_seconds', help: 'Time from a job\'s start to its end, by final status', labelNames: ['status'], buckets: DURATION_BUCKETS, registers });
    this.audioSeconds = new Counter({ name: 'moxing_audio_seconds_total', help: 'Seconds of audio transcribed or translated', labelNames: ['task'], registers });
    this.realTimeFactor = new Histogram({ name: 'moxing_real_time_factor', help: 'Processing time per second of audio (below 1: faster than real time)', labelNames: ['task'], buckets: RTF_BUCKETS, registers });
    this.modelLoadSeconds = new Histogram({ name: 'moxing_model_load_seconds', help: 'Time to load a model (files located, sessions created)', buckets: DURATION_BUCKETS, registers });
    const depth = (): number | Promise<number> => this.queueDepth();
    new Gauge({
      name: 'moxing_queue_depth',
      help: 'Jobs waiting in the job queue',
      registers,
      async collect() {
        this.set(await depth());
      },
    });
  }

  /** Counts one answered request under its route pattern ('unmatched' for requests no route took). */
  observeRequest(method: string, route: string | undefined, status: number, seconds: number): void {
    const r = route ?? 'unmatched';
    this.requests.inc({ method, route: r, status: String(status) });
    this.requestSeconds.observe({ method, route: r }, seconds);
  }

  /** One finished transcription: its audio length and the wall time it took. */
  observeTranscription(task: string, audioSeconds: number, wallSeconds: number): void {
    this.audioSeconds.inc({ task }, audioSeconds);
    if (audioSeconds > 0) this.realTimeFactor.observe({ task }, wallSeconds / audioSeconds);
  }

  /** One job ended (completed, failed, cancelled) after `seconds` of running. */
  observeJob(status: string, seconds: number): void {
    this.jobSeconds.observe({ status }, seconds);
  }

  /** Where the queue depth comes from (the job queue: SQLite or BullMQ), read at each scrape. */
  trackQueueDepth(depth: () => number | Promise<number>): void {
    this.queueDepth = depth;
  }

  /** A model load took `seconds` (the pool's onLoad hook). */
  observeModelLoad(seconds: number): void {
    this.modelLoadSeconds.observe(seconds);
  }

  /** Loaded models and their bytes, read from the pool at each scrape. */
  trackModelPool(pool: ModelPool<unknown>): void {
    const registers = [this.registry];
    new Gauge({ name: 'moxing_models_loaded', help: 'Models loaded now', registers, collect() { this.set(pool.list().filter((m) => m.loaded).length); } });
    new Gauge({ name: 'moxing_model_memory_bytes', help: 'Bytes of the loaded models (their ONNX files)', registers, collect() { this.set(pool.bytes); } });
  }

  /** Model work running and waiting, read from the work limiter at each scrape. */
  trackWorkLimiter(limiter: WorkLimiter): void {
    const registers = [this.registry];
    new Gauge({ name: 'moxing_work_in_flight', help: 'Model work running now', registers, collect() { this.set(limiter.active); } });
    new Gauge({ name: 'moxing_work_queued', help: 'Requests waiting for a model work slot', registers, collect() { this.set(limiter.queued); } });
  }

  /** Counts every answer of `app` (onResponse, so errors and 404s too). */
  instrument(app: FastifyInstance): void {
    app.addHook('onResponse', async (request, reply) => {
      this.observeRequest(request.method, request.routeOptions.url, reply.statusCode, reply.elapsedTime / 1000);
    });
  }
}
