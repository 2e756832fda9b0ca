/** runtime: ONNX Runtime sessions and tensors. ONNX graph files (decode, edit, encode) are in ./onnx/index.ts. */
export { loadSession, loadSessionFromBytes, loadSessionFromTemporaryFile, releaseSession, releaseSessions, resolveRuntimeOptions, cudaAvailable, DEFAULT_RUNTIME } from './session.js';
export type { Device, RuntimeOptions, TemporaryModel } from './session.js';
export { Tensor, float32, int64, bool, emptyFloat32, concatFloat32, rowOf, inputShapes } from './tensor.js';
export { clearOnRelease } from './model-caches.js';
