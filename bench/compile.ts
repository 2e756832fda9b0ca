/**
 * Benchmark runners without tsx: a runner and the TypeScript it imports, transpiled to JavaScript. Apart from
 * lib.ts, which the runners import, so that no runner process loads the TypeScript compiler.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { workDir } from './lib.js';

/**
 * `script` and the TypeScript files it imports (relative imports, transitively) transpiled to JavaScript in a
 * temporary folder under bench/.work, laid out as in the repository, so that a runner measuring memory runs on
 * plain node as an installed moxing does (its compiled dist/): tsx's loader holds about 30 MB of the process's
 * resident memory (its hooks run in a second V8 isolate), which a user's process does not.
 */
export function compileScript(script: string): { path: string; cleanup(): void } {
  const root = process.cwd();
  const out = mkdtempSync(join(workDir(), 'compiled-'));
  const pending = [resolve(script)];
  const done = new Set<string>();
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (done.has(file)) continue;
    done.add(file);
    const target = join(out, relative(root, file));
    mkdirSync(dirname(target), { recursive: true });
    if (!file.endsWith('.ts')) {
      copyFileSync(file, target);
      continue;
    }
    const text = readFileSync(file, 'utf8');
    const compiled = ts.transpileModule(text, { fileName: file, compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
    writeFileSync(target.replace(/\.ts$/, '.js'), compiled.outputText);
    for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const imported = resolve(dirname(file), fileName);
      const source = imported.replace(/\.js$/, '.ts');
      pending.push(existsSync(source) ? source : imported);
    }
  }
  return { path: join(out, relative(root, resolve(script))).replace(/\.ts$/, '.js'), cleanup: () => rmSync(out, { recursive: true, force: true }) };
}
