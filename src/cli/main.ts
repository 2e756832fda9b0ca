/**
 * The `moxing` command line. Each command lives in its own file and exports `register(program)`;
 * this file only wires them and turns every failure into a one-line reason and a non-zero exit.
 */
import { Command, CommanderError } from 'commander';
import { MoxingError } from '../errors.js';
import { COMMANDS } from './commands.js';
import { VERSION } from '../version.js';

export async function main(argv: readonly string[] = process.argv): Promise<number> {
  const program = new Command('moxing')
    .description('Run Whisper, DINOv2 and transformer math locally on ONNX Runtime.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  for (const register of COMMANDS) register(program);
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (error) {
    return reportError(error);
  }
}

/** Prints one line for the user and returns the exit code: 2 for usage errors, 1 for everything else. */
export function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    // commander already printed its message; help and version exit cleanly.
    return error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? 0 : 2;
  }
  if (error instanceof MoxingError) {
    process.stderr.write(`moxing: ${error.message}\n`);
    return error.code === 'BAD_ARGUMENT' ? 2 : 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`moxing: unexpected error: ${message}\n`);
  if (process.env.MOXING_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return 1;
}

const exitCode = await main();
// Let pending stdout writes drain before leaving.
process.exitCode = exitCode;
