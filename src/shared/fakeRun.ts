/**
 * @deprecated For one commit, while callers move: the pure event generator is `./fakeRunEvents`, the run-folder
 * writer `src/runs/fakeRun.ts`. (This re-export of the writer breaks the layer rule shared ← runs; remove it once
 * nothing imports `src/shared/fakeRun`.)
 */
export * from './fakeRunEvents';
export { writeFakeRun } from '../runs/fakeRun';
