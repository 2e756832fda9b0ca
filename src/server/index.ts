/** server/: the HTTP app and its capability plugins. */
export { buildApp } from './app.js';
export type { AppOptions } from './app.js';
export { installErrorHandler, parseBody } from './errors.js';
export { imagesPlugin, decodeImageString, DEFAULT_IMAGES_PLUGIN, EmbeddingsRequest, SearchRequest, ClassifyRequest } from './images.js';
export type { ImagesPluginOptions } from './images.js';
export { calcPlugin, ParamsRequest, TrainRequest, InferRequest, FitRequest } from './calc.js';
export type { CalcPluginOptions } from './calc.js';
