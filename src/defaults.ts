/**
 * The one merge of options over defaults at a library entry point. Fields left `undefined` (an absent CLI flag,
 * an optional HTTP field) keep the default instead of erasing it, as a plain `{ ...DEFAULT_X, ...options }` would.
 */

/** `value` without its undefined fields. */
export function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** `defaults` with every defined field of `options` over it. */
export function withDefaults<T extends object>(defaults: Readonly<T>, options: Partial<T> | undefined): T {
  return { ...defaults, ...definedOnly(options ?? {}) } as T;
}
