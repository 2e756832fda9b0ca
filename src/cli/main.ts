/**
 * The `moxing` command line. Each command lives in its own file and exports `register(program)`;
 * `program.ts` wires them and turns every failure into a one-line reason and a non-zero exit.
 */
import { runCli } from './program.js';

// `moxing models | head` closes our stdout early: that is the reader's choice, not a failure.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

process.exitCode = await runCli(process.argv.slice(2));
