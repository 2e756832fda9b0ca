/** Turns any failure into one line on stderr and an exit code: 2 for usage errors, 1 for everything else. */
import { CommanderError } from 'commander';
import { MoxingError } from '../errors.js';

export function reportError(error: unknown, prefix = ''): number {
  if (error instanceof CommanderError) {
    // commander already printed its message; help and version exit cleanly.
    return error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? 0 : 2;
  }
  if (error instanceof MoxingError) {
    process.stderr.write(`moxing: ${prefix}${error.message}\n`);
    return error.code === 'BAD_ARGUMENT' ? 2 : 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`moxing: ${prefix}unexpected error: ${message}\n`);
  if (process.env.MOXING_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return 1;
}
