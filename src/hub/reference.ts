/**
 * What a model reference names: a local folder, a catalogue alias, or a hub repo `owner/name`, either of
 * the latter optionally pinned with `@revision` (branch, tag or commit).
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { MoxingError, quoteInput } from '../errors.js';
import { catalogEntry, closeAliases, type CatalogEntry } from './catalog.js';

export type ModelRef =
  | { readonly kind: 'local'; readonly ref: string; readonly dir: string }
  | {
      readonly kind: 'hub';
      readonly ref: string;
      readonly repo: string;
      /** Undefined when the reference does not pin one; the caller's default (usually main) applies. */
      readonly revision: string | undefined;
      readonly alias: CatalogEntry | undefined;
    };

// The hub's own rule, loosely: owner and name of letters, digits, '-', '_', '.', not starting with a symbol.
const REPO_ID = /^[A-Za-z0-9][\w.-]{0,95}\/[A-Za-z0-9_.][\w.-]{0,95}$/;
// Git's ref rules, loosely: '/'-separated parts of letters, digits, '_', '.', '-', none empty or starting with '.'.
const REVISION = /^[\w-][\w.-]*(\/[\w-][\w.-]*)*$/;

/**
 * Whether `name` is a hub repo id `owner/name`. The hub forbids "--" and ".." in repo ids (huggingface_hub's
 * validate_repo_id), and the cache relies on it: `owner--name` folders split back at their only "--".
 */
export function isRepoId(name: string): boolean {
  return REPO_ID.test(name) && !name.includes('--') && !name.includes('..');
}

/**
 * Whether `revision` is a plausible branch, tag or commit. No ".." nor a part starting with ".", as git
 * requires, which also keeps a revision from naming a folder outside its snapshot (`@..`).
 */
export function isRevision(revision: string): boolean {
  return REVISION.test(revision) && !revision.includes('..');
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export function parseModelRef(ref: string): ModelRef {
  const text = ref.trim();
  if (text === '') throw new MoxingError('MODEL_UNKNOWN', 'the model reference is empty; give an alias such as whisper-tiny, a hub id owner/name, or a folder');
  if (isDirectory(text)) return { kind: 'local', ref: text, dir: resolve(text) };
  return parseHubRef(text);
}

/**
 * A catalogue alias or hub repo id, never a folder, whatever exists on disk: how a reference that did not
 * come from the machine's operator (an HTTP request) is read.
 */
export function parseHubRef(ref: string): ModelRef {
  const text = ref.trim();
  if (text === '') throw new MoxingError('MODEL_UNKNOWN', 'the model reference is empty; give an alias such as whisper-tiny or a hub id owner/name');
  const at = text.lastIndexOf('@');
  const name = at > 0 ? text.slice(0, at) : text;
  const revision = at > 0 ? text.slice(at + 1) : undefined;
  if (revision !== undefined && !isRevision(revision)) {
    throw new MoxingError('MODEL_UNKNOWN', `${quoteInput(ref)}: the revision after @ must be a branch, tag or commit (letters, digits, '_', '-', '.', '/', without '..'), got ${quoteInput(revision)}`);
  }
  const alias = catalogEntry(name);
  if (alias) return { kind: 'hub', ref: text, repo: alias.repo, revision, alias };
  if (isRepoId(name)) return { kind: 'hub', ref: text, repo: name, revision, alias: undefined };
  if (REPO_ID.test(name)) {
    throw new MoxingError('MODEL_UNKNOWN', `${quoteInput(ref)} is not a valid hub repo id: the hub forbids "--" and ".." in repo ids; check the owner/name spelling`);
  }

  const looksLikePath = /^(\.{1,2}[\\/]|[\\/~]|[A-Za-z]:[\\/])/.test(text) || name.split('/').length > 2;
  const close = name.length <= 100 ? closeAliases(name) : [];
  const hint = close.length > 0 ? ` Did you mean ${close.join(', ')}?` : '';
  const what = looksLikePath ? `no folder exists at ${quoteInput(text)}` : `${quoteInput(text)} is not a catalogue alias, a hub repo id (owner/name) or an existing folder`;
  throw new MoxingError('MODEL_UNKNOWN', `unknown model: ${what}.${hint} Run \`moxing models\` to list the aliases.`);
}
