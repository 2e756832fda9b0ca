/**
 * Which model references a request may name. The list is fixed when the server starts: the models given on
 * the command line (exactly as given, and a folder also under its folder name), plus whatever a capability
 * allows of its own (calculator presets, catalogue aliases). A request never reaches a local path or a new hub
 * id, unless the operator started the server with allowRemoteModels, and then only hub ids, size-capped.
 */
import { basename } from 'node:path';
import { MoxingError, quoteInput } from '../errors.js';
import { isRepoId } from '../hub/index.js';

export type ModelSource = 'served' | 'builtin' | 'remote';

export interface ModelAllowListOptions {
  /** References given at start-up. */
  served: readonly string[];
  /** Names a capability resolves without a path or a new download decision (presets, catalogue aliases). */
  builtin?: (name: string) => boolean;
  /** Request-given hub ids may be fetched. */
  allowRemote?: boolean;
}

export class ModelAllowList {
  private readonly served = new Map<string, string>();

  constructor(private readonly options: ModelAllowListOptions) {
    for (const ref of options.served) {
      this.served.set(ref, ref);
      if (looksLikePath(ref)) this.served.set(basename(ref.replace(/[\\/]+$/, '')), ref);
    }
  }

  /** Names a client may use, without the paths behind them. */
  get names(): string[] {
    return [...this.served.keys()].filter((name) => !looksLikePath(name));
  }

  /** The reference to load for `name`, or MODEL_UNKNOWN (404) when this server does not serve it. */
  resolve(name: string): { ref: string; source: ModelSource } {
    const served = this.served.get(name);
    if (served !== undefined) return { ref: served, source: 'served' };
    if (!looksLikePath(name)) {
      if (this.options.builtin?.(name)) return { ref: name, source: 'builtin' };
      if (this.options.allowRemote && isRepoId(name.split('@')[0])) return { ref: name, source: 'remote' };
    }
    const names = this.names;
    throw new MoxingError(
      'MODEL_UNKNOWN',
      `model ${quoteInput(name, 60)} is not served here${names.length > 0 ? `; served: ${names.slice(0, 20).join(', ')}` : ''}`,
    );
  }
}

/** How a served reference is named in answers: a folder by its name, never its path. */
export function publicModelName(ref: string): string {
  return looksLikePath(ref) ? basename(ref.replace(/[\\/]+$/, '')) : ref;
}

/** Absolute or relative filesystem references (`/x`, `./x`, `../x`, `C:\x`, `~/x`). */
function looksLikePath(ref: string): boolean {
  return /^(?:\/|\.{1,2}(?:[\\/]|$)|~|[A-Za-z]:[\\/]|\\)/.test(ref) || ref.includes('\\');
}
