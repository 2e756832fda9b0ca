/** Time stamps as openai/whisper's writers print them (utils.py format_timestamp). */
import { MoxingError } from '../errors.js';
import { pyRound } from '../text/python.js';

export interface TimestampStyle {
  /** Print the hours even when zero (SRT does, VTT does not). @default false */
  alwaysIncludeHours: boolean;
  /** Between seconds and milliseconds: "," in SRT, "." elsewhere. @default "." */
  decimalMarker: string;
}

export const DEFAULT_TIMESTAMP_STYLE: Readonly<TimestampStyle> = Object.freeze({ alwaysIncludeHours: false, decimalMarker: '.' });

/** `[HH:]MM:SS.mmm` of `seconds`, milliseconds rounded as Python's round(seconds * 1000). */
export function formatTimestamp(seconds: number, style: Partial<TimestampStyle> = {}): string {
  const { alwaysIncludeHours, decimalMarker } = { ...DEFAULT_TIMESTAMP_STYLE, ...style };
  if (!(seconds >= 0) || !Number.isFinite(seconds)) {
    throw new MoxingError('BAD_ARGUMENT', `a timestamp must be a finite number of seconds >= 0, got ${seconds}`);
  }
  let ms = pyRound(seconds * 1000);
  const hours = Math.floor(ms / 3_600_000);
  ms -= hours * 3_600_000;
  const minutes = Math.floor(ms / 60_000);
  ms -= minutes * 60_000;
  const secs = Math.floor(ms / 1000);
  ms -= secs * 1000;
  const two = (n: number): string => String(n).padStart(2, '0');
  const hoursMarker = alwaysIncludeHours || hours > 0 ? `${two(hours)}:` : '';
  return `${hoursMarker}${two(minutes)}:${two(secs)}${decimalMarker}${String(ms).padStart(3, '0')}`;
}
