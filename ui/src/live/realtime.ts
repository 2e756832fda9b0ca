/**
 * The client side of the realtime transcription socket (`/v1/realtime?intent=transcription`, OpenAI's Realtime
 * protocol): the session it asks for, and the server's events folded into what the page shows. Each utterance
 * is an item. Its `.delta` events carry text the server has committed (black), appended as OpenAI's deltas
 * are; moxing's `.partial` event carries what is heard and not committed yet (grey), each replacing the last;
 * `.completed` gives the item's whole transcript.
 */

export interface LiveItem {
  id: string;
  /** Committed text so far (the deltas, then the completed transcript). */
  committed: string;
  /** The uncommitted rest, as last heard. */
  partial: string;
  done: boolean;
  /** Audio time the utterance ended, ms from the stream's start (from speech_stopped). */
  audioEndMs?: number;
  /** Committed-text latency, ms: from the moment the audio up to the item's end was sent, to its transcript. */
  latencyMs?: number;
}

export interface LiveState {
  items: LiveItem[];
  speaking: boolean;
  error?: string;
}

export const EMPTY_LIVE: LiveState = { items: [], speaking: false };

/** Browsers cannot set headers on a WebSocket: the key travels as a subprotocol, as OpenAI's browser clients send it. */
export function realtimeProtocols(key: string): string[] {
  return key === '' ? ['realtime'] : ['realtime', `openai-insecure-api-key.${key}`];
}

export function realtimeUrl(location: { protocol: string; host: string }): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/realtime?intent=transcription`;
}

/** The session: pcm16 at `rate`, the model and language, the server's VAD deciding turns. */
export function sessionUpdate(model: string, language: string, rate: number): unknown {
  return {
    type: 'session.update',
    session: {
      type: 'transcription',
      audio: {
        input: {
          format: { type: 'audio/pcm', rate },
          transcription: { model, ...(language ? { language } : {}) },
          turn_detection: { type: 'server_vad', silence_duration_ms: 500, prefix_padding_ms: 300 },
        },
      },
    },
  };
}

interface ServerEvent {
  type: string;
  item_id?: string;
  delta?: string;
  text?: string;
  transcript?: string;
  audio_end_ms?: number;
  error?: { message?: string };
}

/**
 * The state after one server event. `sentAt(ms)` is the wall-clock time the audio up to `ms` went out, for the
 * latency; `now` is when the event arrived.
 */
export function applyEvent(state: LiveState, event: ServerEvent, now: number, sentAt: (audioMs: number) => number | undefined): LiveState {
  const item = (id: string | undefined): { items: LiveItem[]; at: number } => {
    const key = id ?? 'current';
    const at = state.items.findIndex((i) => i.id === key);
    if (at >= 0) return { items: [...state.items], at };
    return { items: [...state.items, { id: key, committed: '', partial: '', done: false }], at: state.items.length };
  };
  switch (event.type) {
    case 'input_audio_buffer.speech_started':
      return { ...state, speaking: true };
    case 'input_audio_buffer.speech_stopped': {
      const { items, at } = item(event.item_id);
      items[at] = { ...items[at], audioEndMs: event.audio_end_ms };
      return { ...state, items, speaking: false };
    }
    case 'conversation.item.input_audio_transcription.partial': {
      const { items, at } = item(event.item_id);
      items[at] = { ...items[at], partial: event.text ?? '' };
      return { ...state, items };
    }
    case 'conversation.item.input_audio_transcription.delta': {
      const { items, at } = item(event.item_id);
      items[at] = { ...items[at], committed: items[at].committed + (event.delta ?? ''), partial: '' };
      return { ...state, items };
    }
    case 'conversation.item.input_audio_transcription.completed': {
      const { items, at } = item(event.item_id);
      const end = items[at].audioEndMs;
      const sent = end === undefined ? undefined : sentAt(end);
      items[at] = { ...items[at], committed: event.transcript ?? items[at].committed, partial: '', done: true, latencyMs: sent === undefined ? undefined : Math.max(0, now - sent) };
      return { ...state, items };
    }
    case 'error':
      return { ...state, error: event.error?.message ?? 'the server reported an error' };
    default:
      return state;
  }
}

/** When the audio up to `audioMs` had gone out: the first of the [audio ms sent so far, wall-clock ms] marks (in order) that covers it. */
export function sentAt(marks: readonly (readonly [number, number])[], audioMs: number): number | undefined {
  return marks.find(([ms]) => ms >= audioMs)?.[1];
}

/** The median of the committed latencies so far, ms. */
export function medianLatency(items: readonly LiveItem[]): number | undefined {
  const values = items.map((i) => i.latencyMs).filter((v): v is number => v !== undefined).sort((a, b) => a - b);
  if (values.length === 0) return undefined;
  const mid = values.length >> 1;
  return values.length % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}
