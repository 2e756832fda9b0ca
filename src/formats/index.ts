export { formatTimestamp, DEFAULT_TIMESTAMP_STYLE } from './timestamp.js';
export type { TimestampStyle } from './timestamp.js';
export { iterateCues, DEFAULT_SUBTITLE_OPTIONS } from './subtitles.js';
export type { Cue, SubtitleOptions } from './subtitles.js';
export {
  OUTPUT_FORMATS,
  renderTranscript,
  renderTxt,
  renderVtt,
  renderSrt,
  renderTsv,
  renderJson,
  resolveOutputFormats,
  formatSegmentLine,
} from './writers.js';
export type { OutputFormat, OutputFormatOption } from './writers.js';
export { toOpenAiResult, renderOpenAiJson } from './openai-json.js';
export type { OpenAiResult, OpenAiSegment, OpenAiWord } from './openai-json.js';
export { writeTranscript, outputBasename, DEFAULT_WRITE_OPTIONS } from './write.js';
export type { WriteOptions } from './write.js';
export { parseSrt, parseVtt } from './parse.js';
export type { ParsedCue } from './parse.js';
