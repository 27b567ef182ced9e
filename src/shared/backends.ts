/**
 * The compute backends a run can name (config `backend`, `--backend`, the editor's setting). A module of its
 * own so the extension host can list them without loading the run-config schema (Ajv) at activation.
 */
export const BACKENDS = [
  'auto',
  'torch',
  'torch-cuda',
  'torch-mps',
  'torch-cpu',
  'tensorflow-gpu',
  'tensorflow',
  'webgpu',
  'wasm',
  'cpu',
] as const;
export type BackendName = (typeof BACKENDS)[number];

/** The backends of the PyTorch engine (a Python child process); `torch` is its best device: cuda, mps, cpu. */
export const TORCH_BACKENDS = ['torch', 'torch-cuda', 'torch-mps', 'torch-cpu'] as const;
