/** vision/: image loading and preprocessing, DINO/DINOv2 features, image indexes, k-NN and linear probes, PCA and attention pictures. */
export { loadImage, checkImagePixels, readImageFile, encodePng, SUPPORTED_IMAGE_FORMATS, IMAGE_EXTENSIONS } from './image.js';
export type { RgbImage, ImageInput } from './image.js';
export { resizePixels, resampleFromPil, PIL_RESAMPLE } from './resample.js';
export type { ResampleFilter, PixelRegion } from './resample.js';
export { preprocess, preprocessDense, processorFromConfig, shortestEdgeSize, DINOV2_PROCESSOR, DINO_PROCESSOR } from './processor.js';
export type { ImageProcessorOptions, PixelValues, ResizeTarget } from './processor.js';
export { VisionModel } from './model.js';
export type { VisionModelOptions, VisionModelInfo, VisionFamily, TokenBatch } from './model.js';
export {
  embedImages,
  embedPixels,
  poolTokens,
  l2Normalize,
  embeddingSize,
  patchFeatures,
  preprocessFor,
  preprocessDenseFor,
  resolveEmbedOptions,
  POOLINGS,
  DEFAULT_EMBED,
  DEFAULT_DENSE,
} from './features.js';
export type { Pooling, EmbedOptions, DenseOptions, PatchGrid } from './features.js';
export { indexImages, listImages, requireImages, indexAttributes } from './image-index.js';
export type { ImageMetadata, IndexReport, IndexProgress, IndexImagesOptions } from './image-index.js';
export { KnnClassifier, DEFAULT_KNN } from './knn.js';
export type { KnnOptions, LabeledVectors, Prediction } from './knn.js';
export { LinearProbe, DEFAULT_LINEAR_PROBE } from './linear.js';
export type { LinearProbeOptions, LinearProbeReport } from './linear.js';
export { trainImageClassifier, classifierFromVectors, embedTrainingSet, listLabeledImages, DEFAULT_CLASSIFY_POOL } from './classify.js';
export type { ImageClassifier, ClassifyMethod, TrainClassifierOptions } from './classify.js';
export { TrainingSetCache, trainingFingerprint, DEFAULT_TRAINING_CACHE } from './train-cache.js';
export type { TrainingCacheOptions } from './train-cache.js';
export { pca } from './pca.js';
export type { PcaResult } from './pca.js';
export { pcaPicture, attentionPicture, attentionMaps, massMask, DEFAULT_PCA_PICTURE, DEFAULT_ATTENTION_PICTURE } from './viz.js';
export type { Picture, PcaPictureOptions, AttentionPictureOptions, AttentionMaps } from './viz.js';
export { encodeNpy, decodeNpy } from './npy.js';
export { searchIndex, dedupeFolder, modelForIndex, indexPooling, defaultIndexLocation, DEFAULT_VISION_MODEL, DEFAULT_SEARCH_INDEX } from './search.js';
export type { SearchIndexOptions, DedupeFolderOptions, DedupeFolderResult } from './search.js';
