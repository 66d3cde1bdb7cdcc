export { decodeImage, resizeBilinear, rotateImage180, type RgbImage } from './image.js';
export {
  preprocessImage,
  resizedSize,
  PADDLE_OCR_REC_PREPROCESS,
  PADDLE_OCR_CLS_PREPROCESS,
  PADDLE_OCR_DET_PREPROCESS,
  type PreprocessSpec,
  type PreprocessedImage,
  type ResizeSpec,
} from './preprocess.js';
export { loadSamples, collectSamples, type SampleOptions } from './samples.js';
export { parsePreprocessSpec, formatPreprocessSpec } from './preprocess-spec.js';
export {
  ctcCharsetFromKeys,
  readCtcCharset,
  ctcGreedyDecode,
  compareTexts,
  argmaxRows,
  labelAgreement,
  binarize,
  maskIoU,
  maskCoverage,
  normalizeOcrText,
  rasterizeBoxes,
  type CtcCharset,
  type DecodedLine,
  type TextAgreement,
  type Box,
} from './ocr-metrics.js';
export {
  recognizeImages,
  classifyImages,
  detectImages,
  compareDetections,
  type RunModel,
  type ImageSource,
  type BatchOptions,
  type DetectedPage,
} from './ocr-eval.js';
