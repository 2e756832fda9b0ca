/** Every CLI command, one module each. A command module exports `register(program: Command): void`. */
import type { Command } from 'commander';

export type RegisterCommand = (program: Command) => void;

export const COMMANDS: readonly RegisterCommand[] = [
];
