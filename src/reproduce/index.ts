/** `fisher-lens reproduce`: plan, verdicts, report, resumable orchestration (see docs/reproduction/). */
export { registerReproduceCommand, optionsFromFlags } from './command';
export { reproduce, defaultOut, type Runner, type ReproduceResult } from './orchestrate';
export {
  buildPlan,
  searchRuns,
  setupFor,
  pickEtaStar,
  parseDatasetArg,
  type Plan,
  type RunSpec,
  type Setup,
  type ReproOptions,
} from './plan';
export { analyze } from './verdicts';
export { renderReport } from './report';
