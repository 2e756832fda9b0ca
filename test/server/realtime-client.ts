/** A Realtime-protocol test client on `ws`: connects, records every server event, waits for the ones asked for. */
import WebSocket from 'ws';
import { toPcm16Base64 } from '../../src/server/realtime.js';

export interface ServerEvent {
  readonly type: string;
  readonly [field: string]: unknown;
}

export class RealtimeClient {
  readonly events: ServerEvent[] = [];
  private waiters: { test: (e: ServerEvent) => boolean; resolve: (e: ServerEvent) => void }[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const event = JSON.parse(String(data)) as ServerEvent;
      this.events.push(event);
      this.waiters = this.waiters.filter((w) => (w.test(event) ? (w.resolve(event), false) : true));
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }

  /** Opens a session; rejects with the HTTP status when the upgrade is refused. */
  static open(url: string, options: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<RealtimeClient> {
    const ws = new WebSocket(url, options.protocols ?? [], { headers: options.headers });
    return new Promise((resolve, reject) => {
      const client = new RealtimeClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => reject(Object.assign(new Error(`upgrade refused: ${response.statusCode}`), { status: response.statusCode, body })));
      });
      ws.once('error', reject);
    });
  }

  send(event: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(event));
  }

  /** The first event (already received or to come) of `type` matching `test`, after `from` events. */
  next(type: string, test: (e: ServerEvent) => boolean = () => true, from = 0): Promise<ServerEvent> {
    const match = (e: ServerEvent) => e.type === type && test(e);
    const seen = this.events.slice(from).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ test: match, resolve }));
  }

  /** Resolves once `count` events of `type` have arrived. */
  async count(type: string, count: number): Promise<ServerEvent[]> {
    for (;;) {
      const found = this.events.filter((e) => e.type === type);
      if (found.length >= count) return found;
      await this.next(type, (e) => !found.includes(e), this.events.length);
    }
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }
}

/** Samples as base64 little-endian 16-bit PCM appends of `seconds` each, at `rate`. */
export function appends(samples: Float32Array, rate: number, seconds: number): Record<string, unknown>[] {
  const size = Math.round(seconds * rate);
  const out: Record<string, unknown>[] = [];
  for (let s = 0; s < samples.length; s += size) {
    out.push({ type: 'input_audio_buffer.append', audio: toPcm16Base64(samples.subarray(s, s + size)) });
  }
  return out;
}
