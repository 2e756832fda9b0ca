/** One Float32Array holding `parts` one after another (decoded chunks, step logits, test signals). */
export { concatFloat32 } from '../../src/runtime/index.js';
