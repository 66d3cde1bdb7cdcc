/**
 * Running an OCR model (recognizer, direction classifier or detector) over a set of images and
 * reducing its outputs to what the agreement measures compare: texts, class labels, probability
 * maps. The model is any `RunModel` callback (onnxruntime, slimc's interpreter, a compiled
 * backend), so a float model and its compressed version are measured the same way:
 *
 *   const texts = await recognizeImages(runFloat, paths, charset);
 *   const textsInt8 = await recognizeImages(runInt8, paths, charset);
 *   compareTexts(texts, textsInt8)                      // line equality, character agreement
 */
import { makeTensor, SlimcError, type Tensor } from '@slimc/ir';
import { decodeImage, type RgbImage } from './image.js';
import {
  PADDLE_OCR_CLS_PREPROCESS,
  PADDLE_OCR_DET_PREPROCESS,
  PADDLE_OCR_REC_PREPROCESS,
  preprocessImage,
  type PreprocessSpec,
  type PreprocessedImage,
} from './preprocess.js';
import { argmaxRows, binarize, ctcGreedyDecode, maskIoU, type CtcCharset } from './ocr-metrics.js';

/** Runs a single-input model on a (batched) input tensor and returns its first output. */
export type RunModel = (input: Tensor) => Promise<Tensor>;

/** An image file or an already decoded image. */
export type ImageSource = string | RgbImage;

export interface BatchOptions {
  /** Images per model call (default 16); images whose tensors differ in shape are never batched together. */
  batchSize?: number;
  spec?: PreprocessSpec;
}

/** Decoded CTC text of each line image (raw: not normalized). */
export async function recognizeImages(run: RunModel, images: readonly ImageSource[], charset: CtcCharset, options: BatchOptions = {}): Promise<string[]> {
  const outputs = await runBatched(run, await preprocessAll(images, options.spec ?? PADDLE_OCR_REC_PREPROCESS), options.batchSize);
  return outputs.flatMap((o) => ctcGreedyDecode(o, charset).map((l) => l.text));
}

/** Argmax class of each line image (PaddleOCR cls: 0 = upright, 1 = turned 180 degrees). */
export async function classifyImages(run: RunModel, images: readonly ImageSource[], options: BatchOptions = {}): Promise<number[]> {
  const outputs = await runBatched(run, await preprocessAll(images, options.spec ?? PADDLE_OCR_CLS_PREPROCESS), options.batchSize);
  return outputs.flatMap((o) => argmaxRows(o));
}

export interface DetectedPage {
  /** The probability map [1, 1, h, w] at the resized image's resolution. */
  map: Tensor;
  /** Sizes before and after preprocessing, to map page coordinates onto the map. */
  input: Omit<PreprocessedImage, 'tensor'>;
}

/** The detector's probability map for each page, one page per call (pages differ in size). */
export async function detectImages(run: RunModel, images: readonly ImageSource[], options: { spec?: PreprocessSpec } = {}): Promise<DetectedPage[]> {
  const pages: DetectedPage[] = [];
  for (const pre of await preprocessAll(images, options.spec ?? PADDLE_OCR_DET_PREPROCESS)) {
    const { tensor, ...input } = pre;
    pages.push({ map: await run(tensor), input });
  }
  return pages;
}

/** IoU of the binarized maps of the same pages from two detectors (mean and worst page). */
export function compareDetections(reference: readonly DetectedPage[], candidate: readonly DetectedPage[], threshold = 0.3): { meanIoU: number; minIoU: number; ious: number[] } {
  if (reference.length !== candidate.length) {
    throw new SlimcError('invalid-argument', `reference has ${reference.length} pages, candidate has ${candidate.length}`, { field: 'pages' });
  }
  const ious = reference.map((r, i) => {
    const c = candidate[i]!;
    if (r.map.shape.join() !== c.map.shape.join()) {
      throw new SlimcError('invalid-argument', `map shapes differ: [${r.map.shape.join(', ')}] vs [${c.map.shape.join(', ')}]`, { field: `page ${i}` });
    }
    return maskIoU(binarize(r.map, threshold), binarize(c.map, threshold));
  });
  return { meanIoU: ious.length ? ious.reduce((a, b) => a + b, 0) / ious.length : 1, minIoU: Math.min(1, ...ious), ious };
}

async function preprocessAll(images: readonly ImageSource[], spec: PreprocessSpec): Promise<PreprocessedImage[]> {
  const out: PreprocessedImage[] = [];
  for (const image of images) out.push(preprocessImage(typeof image === 'string' ? await decodeImage(image) : image, spec));
  return out;
}

/**
 * Runs consecutive inputs of equal shape as one batch (concatenated on axis 0). Returns one output
 * per call, whose rows follow that call's inputs in order.
 */
async function runBatched(run: RunModel, inputs: readonly PreprocessedImage[], batchSize = 16): Promise<Tensor[]> {
  const outputs: Tensor[] = [];
  let start = 0;
  while (start < inputs.length) {
    const shape = inputs[start]!.tensor.shape;
    let end = start + 1;
    while (end < inputs.length && end - start < batchSize && inputs[end]!.tensor.shape.join() === shape.join()) end++;
    const batch = inputs.slice(start, end).map((p) => p.tensor);
    const output = await run(concatBatch(batch));
    if (output.shape[0] !== batch.length) {
      throw new SlimcError('invalid-argument', `model returned a batch of ${output.shape[0]} for ${batch.length} inputs`, { field: 'output 0' });
    }
    outputs.push(output);
    start = end;
  }
  return outputs;
}

/** Float32 tensors of shape [1, ...rest] stacked into [n, ...rest]. */
function concatBatch(tensors: readonly Tensor[]): Tensor {
  if (tensors.length === 1) return tensors[0]!;
  const [, ...rest] = tensors[0]!.shape;
  const per = tensors[0]!.data.length;
  const data = new Float32Array(per * tensors.length);
  tensors.forEach((t, i) => data.set(t.data as Float32Array, i * per));
  return makeTensor('float32', [tensors.length, ...rest], data);
}
