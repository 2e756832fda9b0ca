/**
 * The `moxing` command line. Each command lives in its own file and exports `register(program)`;
 * this file only wires them and turns every failure into a one-line reason and a non-zero exit.
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
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  for (const register of COMMANDS) register(program);
  // Subcommands inherit exitOverride so a usage error reaches reportError instead of exiting inside commander.
  for (const command of program.commands) command.exitOverride();
  return program;
}

// `moxing models | head` closes our stdout early: that is the reader's choice, not a failure.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  process.exitCode = reportError(error);
}
