/**
 * The `moxing` program, apart from running it: tests parse arguments in-process through `runCli`, and
 * `main.ts` is the process entry point.
 */
import { Command } from 'commander';
import { COMMANDS } from './commands.js';
import { reportError } from './report.js';
import { VERSION } from '../version.js';

/**
 * The program for `args`: the command being run is loaded with all its options; every other command is only
 * named, with its summary, so that `--help` lists it without loading it. `args` are the words after `moxing`.
 */
export async function buildProgram(args: readonly string[] = []): Promise<Command> {
  const program = new Command('moxing')
    .description('Run Whisper, DINOv2 and transformer math locally on ONNX Runtime.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text), writeOut: (text) => process.stdout.write(text) });
  const wanted = requestedCommand(args);
  for (const entry of COMMANDS) {
    if (entry.name === wanted) (await entry.load()).register(program);
    else program.command(entry.name).description(entry.summary).allowUnknownOption().allowExcessArguments();
  }
  // Subcommands inherit exitOverride so a usage error reaches reportError instead of exiting inside commander.
  for (const command of program.commands) command.exitOverride();
  return program;
}

/** The command word in `args` (`moxing help X` asks about X), skipping the program's own options. */
function requestedCommand(args: readonly string[]): string | undefined {
  const words = args.filter((a) => !a.startsWith('-'));
  return words[0] === 'help' ? words[1] : words[0];
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
    await (await buildProgram(args)).parseAsync(['node', 'moxing', ...args]);
    return Number(process.exitCode ?? 0);
  } catch (error) {
    return reportError(error);
  } finally {
    process.exitCode = before;
  }
}
