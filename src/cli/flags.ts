/**
 * CLI flags declared from tables keyed by the library's own option names. The flag is the field's kebab-case
 * (`beamSize` → `--beam-size`), its parsed value is handed to the library under the field's name unchanged, and
 * its default is the library's DEFAULT_* value: shown in the help, never restated, never passed when the flag
 * is absent. A command is then: parse → one library call → render.
 */
import { Option, type Command } from 'commander';
import { MoxingError } from '../errors.js';

export interface Flag {
  /** The library option this flag sets. */
  readonly field: string;
  /** One-letter short form (`l` for -l). */
  readonly short?: string;
  /** Placeholder of the value (`<n>`); a flag without one is a switch. */
  readonly value?: string;
  /** A switch that is on by default, given as `--no-<flag>` (conditionOnPreviousText → --no-condition-on-previous-text). */
  readonly negatable?: boolean;
  readonly description: string;
  /** Parses and checks the value; errors name the flag. */
  readonly parse?: (value: string) => unknown;
  /** Older or shorter names that keep working (`--tp` for --tensor-parallel), hidden from the help. */
  readonly aliases?: readonly string[];
}

function renamed<T>(parse: () => T, from: string, to: string): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof MoxingError) throw new MoxingError(error.code, error.message.split(from).join(to), { cause: error });
    throw error;
  }
}

export const kebab = (field: string): string => field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** `--beam-size` for `beamSize`. */
export const flagOf = (field: string): string => `--${kebab(field)}`;

/** Declares `flags` on `command`; `defaults` (a DEFAULT_* object) supplies the defaults the help shows. */
export function addFlags(command: Command, flags: readonly Flag[], defaults: Readonly<Record<string, unknown>> = {}): Command {
  for (const flag of flags) {
    const name = flag.negatable ? `--no-${kebab(flag.field)}` : flagOf(flag.field);
    const spec = `${flag.short ? `-${flag.short}, ` : ''}${name}${flag.value ? ` ${flag.value}` : ''}`;
    const shown = defaults[flag.field];
    const help = flag.negatable || shown === undefined || shown === null || shown === false ? flag.description : `${flag.description} (default: ${String(shown)})`;
    const option = new Option(spec, help);
    if (flag.parse) option.argParser((value: string) => flag.parse!(value));
    command.addOption(option);
    for (const alias of flag.aliases ?? []) {
      const hidden = new Option(`${alias}${flag.value ? ` ${flag.value}` : ''}`).hideHelp();
      // Errors name the flag as typed.
      if (flag.parse) hidden.argParser((value: string) => renamed(() => flag.parse!(value), flagOf(flag.field), alias));
      command.addOption(hidden);
    }
  }
  return command;
}

/**
 * The library options set by `flags` on the command line, under their field names. Flags not given are left
 * out, so the library's defaults apply (commander's own implicit `true` for a `--no-` flag included).
 */
export function fieldsOf<T>(command: Command, flags: readonly Flag[]): Partial<T> {
  const options = command.opts();
  const out: Record<string, unknown> = {};
  for (const flag of flags) {
    // commander names `--no-speech-threshold <p>` speechThreshold: ask it which attribute it chose.
    const names = [flag.negatable ? `--no-${kebab(flag.field)}` : flagOf(flag.field), ...(flag.aliases ?? [])];
    for (const name of names) {
      const attribute = new Option(name).attributeName();
      if (command.getOptionValueSource(attribute) === 'cli') out[flag.field] = options[attribute];
    }
  }
  return out as Partial<T>;
}
