/**
 * The `moxing` program, apart from running it: tests parse arguments in-process through `runCli`, and
 * `main.ts` is the process entry point.
 */
import { Command } from 'commander';
import { COMMANDS } from './commands.js';
import { reportError } from './report.js';
import { VERSION } from '../version.js';

export function buildProgram(): Command {
  const program = new Command('moxing')
    .description('Run Whisper, DINOv2 and transformer math locally on ONNX Runtime.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text), writeOut: (text) => process.stdout.write(text) });
  for (const register of COMMANDS) register(program);
  // Subcommands inherit exitOverride so a usage error reaches reportError instead of exiting inside commander.
  for (const command of program.commands) command.exitOverride();
  return program;
}

/**
 * Runs `moxing ARGS...` and returns its exit code: 0, 1 for a failure, 2 for a usage error. A command that
 * reports a per-file failure sets `process.exitCode`; it is read and cleared here so one run never leaks
 * its code into the next.
 */
export async function runCli(args: readonly string[]): Promise<number> {
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await buildProgram().parseAsync(['node', 'moxing', ...args]);
    return Number(process.exitCode ?? 0);
  } catch (error) {
    return reportError(error);
  } finally {
    process.exitCode = before;
  }
}
