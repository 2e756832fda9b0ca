/**
 * CLI flags declared from tables keyed by the library's own option names. The flag is the field's kebab-case
 * (`beamSize` → `--beam-size`), its parsed value is handed to the library under the field's name unchanged, and
 * its default is the library's DEFAULT_* value: shown in the help, never restated, never passed when the flag
 * is absent. A command is then: parse → one library call → render.
 */
import { Option, type Command } from 'commander';
import { z } from 'zod';
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
  /** Parses and checks the value; errors name the flag. @default checked against `schema` when there is one */
  readonly parse?: (value: string) => unknown;
  /**
   * The option's values, the same schema the HTTP API checks with (calc/option-schemas.ts,
   * asr/whisper/option-schemas.ts): a number, whole or not, in a range, or one of some strings.
   */
  readonly schema?: z.ZodType;
  /** Reads the text before the schema checks it (`32k` → 32768) instead of a plain number. Errors name the flag. */
  readonly read?: (value: string, flag: string) => unknown;
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
    const parse = flag.parse ?? (flag.schema ? schemaParser(flagOf(flag.field), flag.schema, flag.read) : undefined);
    if (parse) option.argParser((value: string) => parse(value));
    command.addOption(option);
    for (const alias of flag.aliases ?? []) {
      const hidden = new Option(`${alias}${flag.value ? ` ${flag.value}` : ''}`).hideHelp();
      // Errors name the flag as typed.
      if (parse) hidden.argParser((value: string) => renamed(() => parse(value), flagOf(flag.field), alias));
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

interface ValueShape {
  readonly type?: string;
  readonly enum?: readonly unknown[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
}

/** "a whole number from 1 to 64", "one of fp32, fp16": what `schema` takes, in the words the CLI's errors use. */
export function expectedValue(schema: z.ZodType): string {
  const shape = z.toJSONSchema(schema) as ValueShape;
  if (shape.enum) return `one of ${shape.enum.join(', ')}`;
  const what = shape.type === 'integer' ? 'a whole number' : shape.type === 'number' ? 'a number' : 'text';
  if (shape.type === 'string') return what;
  const low = shape.exclusiveMinimum !== undefined ? `above ${shape.exclusiveMinimum}` : `from ${shape.minimum ?? Number.NEGATIVE_INFINITY}`;
  const high = shape.exclusiveMaximum !== undefined ? `below ${shape.exclusiveMaximum}` : `to ${shape.maximum ?? Number.POSITIVE_INFINITY}`;
  return `${what} ${low} ${high}`;
}

/** The flag's text checked against `schema`: read as a number when the schema takes numbers, else as it is. */
export function schemaParser(flag: string, schema: z.ZodType, read?: (value: string, flag: string) => unknown): (value: string) => unknown {
  const type = (z.toJSONSchema(schema) as ValueShape).type;
  // Whole numbers as digits only (not 1e3 or 0x10), as a person types them.
  const number = (value: string): number => (value.trim() === '' || (type === 'integer' && !/^-?\d+$/.test(value.trim())) ? Number.NaN : Number(value));
  return (value: string) => {
    const raw = read ? read(value, flag) : type === 'number' || type === 'integer' ? number(value) : value;
    const parsed = schema.safeParse(raw);
    if (!parsed.success) throw new MoxingError('BAD_ARGUMENT', `${flag} must be ${expectedValue(schema)}, got "${value}"`);
    return parsed.data;
  };
}
