/** The public library API of moxing. Each capability folder exports its own API from its index.ts. */
export { MoxingError, ERROR_CODES, isMoxingError } from './errors.js';
export type { ErrorCode } from './errors.js';
export * from './runtime/index.js';
export { VERSION } from './version.js';
