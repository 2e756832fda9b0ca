/** Every CLI command, one module each. A command module exports `register(program: Command): void`. */
import type { Command } from 'commander';
import { register as transcribe } from './transcribe.js';
import { register as pull } from './pull.js';
import { register as models } from './models.js';
import { register as calc } from './calc.js';
import { register as align } from './align.js';
import { register as embed } from './embed.js';
import { register as indexImages } from './index-cmd.js';
import { register as search } from './search.js';
import { register as dedupe } from './dedupe.js';
import { register as classify } from './classify.js';
import { register as viz } from './viz.js';
import { register as vad } from './vad.js';
import { register as quantize } from './quantize.js';
import { register as serve } from './serve.js';

export type RegisterCommand = (program: Command) => void;

export const COMMANDS: readonly RegisterCommand[] = [
  transcribe,
  pull,
  models,
  calc,
  align,
  embed,
  indexImages,
  search,
  dedupe,
  classify,
  viz,
  vad,
  quantize,
  serve,
];
