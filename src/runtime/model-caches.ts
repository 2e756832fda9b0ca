/**
 * Caches of loaded models, which hold ONNX Runtime sessions: releaseSessions empties them, since a model they
 * kept would hold disposed sessions, and the next load must read the files again. No ORT import here: the CLI's
 * command modules register their caches without loading the native module.
 */
const modelCaches: { clear(): void }[] = [];

/** Registers `modelCache` to be emptied whenever every session is released; returns it. */
export function clearOnRelease<T extends { clear(): void }>(modelCache: T): T {
  modelCaches.push(modelCache);
  return modelCache;
}

export function clearModelCaches(): void {
  for (const modelCache of modelCaches) modelCache.clear();
}
