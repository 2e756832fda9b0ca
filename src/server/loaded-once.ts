/**
 * Models of a plugin loaded on first use and kept for the app's life: concurrent first requests share one load,
 * a failed load is forgotten (the next request tries again), and every loaded model is disposed when the app
 * closes. (The speech routes have the model pool instead: TTL, memory budget, in-use counts.)
 */
import type { FastifyInstance } from 'fastify';

export function loadedOnce<T extends { dispose(): unknown }>(app: FastifyInstance, load: (ref: string) => Promise<T>): (ref: string) => Promise<T> {
  const loaded = new Map<string, Promise<T>>();
  app.addHook('onClose', async () => {
    for (const model of loaded.values()) await model.then((m) => m.dispose(), () => undefined);
  });
  return (ref) => {
    let model = loaded.get(ref);
    if (!model) {
      model = load(ref);
      loaded.set(ref, model);
      model.catch(() => loaded.delete(ref));
    }
    return model;
  };
}
