// Fisher maths on tfjs tensors. Node only (checkpoints use fs; setupWasm resolves node_modules).
// Call setupWasm() before tf.setBackend('wasm'), and installPatches(tf.getBackend()) once the
// backend is set.
export {
  hasSyncReads,
  installPatches,
  patchesInstalled,
  setupWasm,
  withTapeGuard,
} from './backend';
export {
  createModel,
  createModelFromValues,
  normalizeSpec,
  releaseInputs,
  RESIDUAL_INIT_SCALE,
  type Activation,
  type Arch,
  type InputShape,
  type LayerInfo,
  type Model,
  type ModelSpec,
  type Taps,
} from './models';
export { loadModel, loadParams, saveParams, type ParamsMeta } from './checkpoint';
export {
  crossEntropy,
  crossEntropyPerExample,
  crossEntropySum,
  labelsToArray,
  oneHot,
  sampleLabels,
  softmaxRows,
  uniformLabels,
  type Labels,
} from './loss';
export {
  layerSqNorms,
  naivePerExampleSqNorms,
  perExampleSqNorms,
  type LabelSource,
  type PerExampleResult,
} from './perExample';
export {
  batchFisherTrace,
  fisherTrace,
  meanAndStderr,
  type FisherTraceOptions,
  type FisherTraceResult,
} from './fisher';
export {
  addScaled,
  lossAndGradients,
  penaltyGradients,
  sumOfSquares,
  type LossGradResult,
  type PenaltyKind,
  type PenaltyOptions,
  type PenaltyResult,
} from './penalty';
export { hessianVectorProduct, hutchinsonTraceH, type HutchinsonResult } from './hessian';
export { deriveSeed, Rng } from '../shared/rng';
