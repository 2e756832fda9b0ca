/**
 * `moxing serve`'s limits of the realtime socket (DEFAULT_REALTIME, server/speech-defaults.ts), declared from a table
 * (src/cli/flags.ts) under the library's field names with a `realtime` prefix, so that the flags say what they
 * limit: maxSessions → --realtime-max-sessions. The prefix comes off before the options reach the server.
 */
import { parseBytes } from '../calc/units.js';
import { MoxingError } from '../errors.js';
import type { RealtimePluginOptions } from '../server/realtime.js';
import { DEFAULT_REALTIME } from '../server/speech-defaults.js';
import type { Flag } from './flags.js';
import { parseInteger } from './options.js';

type Limit = keyof typeof DEFAULT_REALTIME;

const PREFIX = 'realtime';
const prefixed = (field: Limit): string => `${PREFIX}${field[0].toUpperCase()}${field.slice(1)}`;

/** A WebSocket message must at least hold a small append and a session.update. */
const MIN_MESSAGE_BYTES = 4096;

function parseMessageBytes(value: string): number {
  const bytes = parseBytes(value, '--realtime-max-message-bytes');
  if (!(bytes >= MIN_MESSAGE_BYTES)) throw new MoxingError('BAD_ARGUMENT', `--realtime-max-message-bytes must be at least ${MIN_MESSAGE_BYTES} bytes (4KiB), got "${value}"`);
  return Math.floor(bytes);
}

const LIMITS: readonly (Omit<Flag, 'field'> & { readonly limit: Limit })[] = [
  { limit: 'maxSessions', value: '<n>', description: 'live transcription sessions open at once on /v1/realtime; past it the upgrade is answered 429', parse: parseInteger('--realtime-max-sessions', 1, 10_000) },
  { limit: 'idleTimeoutMs', value: '<ms>', description: 'close a realtime session that sends nothing this long (and has nothing being transcribed)', parse: parseInteger('--realtime-idle-timeout-ms', 1000, 86_400_000) },
  { limit: 'maxMessageBytes', value: '<bytes>', description: 'largest realtime WebSocket message (e.g. 1MiB; 1 s of 24 kHz pcm16 is 64 KB of base64); a larger one closes the session (1009)', parse: parseMessageBytes },
  { limit: 'maxMessagesPerSecond', value: '<n>', description: 'realtime messages a session may send per second before it is closed (1008)', parse: parseInteger('--realtime-max-messages-per-second', 1, 100_000) },
  { limit: 'maxQueuedSeconds', value: '<seconds>', description: 'seconds of realtime audio received and not yet transcribed; appends past it are refused', parse: parseInteger('--realtime-max-queued-seconds', 1, 3600) },
];

/** The flags, under their prefixed field names. */
export const REALTIME_FLAGS: readonly Flag[] = LIMITS.map(({ limit, ...flag }) => ({ ...flag, field: prefixed(limit) }));

/** DEFAULT_REALTIME under the flags' names, for the help. */
export const REALTIME_FLAG_DEFAULTS: Readonly<Record<string, unknown>> = Object.fromEntries(LIMITS.map(({ limit }) => [prefixed(limit), DEFAULT_REALTIME[limit]]));

/** The realtime plugin's options from the flags given (fieldsOf(cmd, REALTIME_FLAGS)); absent ones keep the defaults. */
export function realtimeOptions(given: Readonly<Record<string, unknown>>): Partial<Pick<RealtimePluginOptions, Limit>> {
  const out: Partial<Record<Limit, number>> = {};
  for (const { limit } of LIMITS) {
    const value = given[prefixed(limit)];
    if (typeof value === 'number') out[limit] = value;
  }
  return out;
}
