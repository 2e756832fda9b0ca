/** The public library API of moxing. Each capability folder exports its own API from its index.ts. */
export { MoxingError, ERROR_CODES, isMoxingError } from './errors.js';
export type { ErrorCode } from './errors.js';
export * from './runtime/index.js';
export * from './hub/index.js';
export * from './calc/index.js';
export * from './audio/index.js';
export * from './text/index.js';
export * from './formats/index.js';
export * from './asr/index.js';
export * from './asr/ctc/index.js';
export * from './vision/index.js';
export * from './vectors/index.js';
export * from './quantize/index.js';
export * from './server/index.js';
export { VERSION } from './version.js';
