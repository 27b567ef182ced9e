// A stand-in for dist/cli.js in host tests: `train <config> --runs-dir D --run-id ID --json [--backend B]` (or
// `run --runs-dir D --run-id ID --quiet -- <command>`).
// Records its arguments (FAKE_CLI_LOG), adopts the queued run folder, writes a short run with a Fisher
// explosion, and stops early on SIGTERM or a STOP file. FAKE_CLI_EXIT forces an exit code (2: bad config), with
// FAKE_CLI_STDERR as its stderr when set.
'use strict';
const fs = require('fs');
const path = require('path');
const os = require('os');

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const runsDir = opt('--runs-dir');
const runId = opt('--run-id');
if (process.env.FAKE_CLI_LOG)
  fs.appendFileSync(
    process.env.FAKE_CLI_LOG,
    JSON.stringify({
      args,
      config: args[0] === 'train' ? JSON.parse(fs.readFileSync(args[1], 'utf8')) : null,
      pid: process.pid,
      cwd: process.cwd(),
    }) + '\n',
  );
if (process.env.FAKE_CLI_EXIT) {
  process.stderr.write(
    process.env.FAKE_CLI_STDERR ?? 'invalid run config: optimizer.lr: got -1; must be > 0\n',
  );
  process.exit(Number(process.env.FAKE_CLI_EXIT));
}
const dir = path.join(runsDir, runId);
fs.mkdirSync(dir, { recursive: true });
const steps = Number(process.env.FAKE_CLI_STEPS || 60);
const msPerStep = Number(process.env.FAKE_CLI_MS || 20);
const t0 = Date.now();
const writeJson = (f, v) => {
  fs.writeFileSync(path.join(dir, f + '.tmp-1-1'), JSON.stringify(v));
  fs.renameSync(path.join(dir, f + '.tmp-1-1'), path.join(dir, f));
};
const status = (state, step) => ({
  runId,
  state,
  step,
  totalSteps: steps,
  pid: state === 'running' ? process.pid : null,
  host: os.hostname(),
  startedAt: new Date(t0).toISOString(),
  updatedAt: new Date().toISOString(),
  error: null,
});
const ev = (e) =>
  fs.appendFileSync(path.join(dir, 'events.jsonl'), JSON.stringify({ t: Date.now(), ...e }) + '\n');
ev({
  type: 'header',
  schemaVersion: 1,
  runId,
  backend: 'fake',
  backendRejections: [],
  dataset: {
    name: 'synthetic',
    trainSize: 1280,
    testSize: 100,
    inputShape: [8, 8, 1],
    numClasses: 10,
    noisyCount: 0,
  },
  model: { arch: 'mlp', paramCount: 100 },
  seed: 0,
  stepsPerEpoch: 10,
  totalSteps: steps,
  host: os.hostname(),
  pid: process.pid,
  version: 'fake',
});
ev({ type: 'status', step: 0, state: 'running' });
writeJson('status.json', status('running', 0));
let step = 0;
let stop = false;
process.on('SIGTERM', () => (stop = true));
const timer = setInterval(() => {
  step++;
  const trF = step < 30 ? 10 : 10 + (step - 30) * 2;
  ev({
    type: 'step',
    step,
    epoch: step / 10,
    loss: 2 / (1 + step / 20),
    lr: 0.005,
    penalty: null,
    gradNorm: 1,
    examplesPerSec: 1000,
  });
  ev({ type: 'fisher', step, epoch: step / 10, trF, trFStderr: 1, probeSize: 16, trFB: 1, ms: 1 });
  if (step === 45)
    ev({
      type: 'detector',
      step,
      kind: 'explosion',
      value: trF,
      rise: 4.2,
      peakStep: 40,
      basis: 'initial',
      base: trF / 4.2,
      baseLabel: 'its Tr(F) at initialisation (step 0)',
      message: 'rose',
    });
  if (step % 10 === 0)
    ev({
      type: 'eval',
      step,
      epoch: step / 10,
      testLoss: 1,
      testAcc: 0.5 + step / 1000,
      trainLoss: 1,
      trainAcc: 0.5,
      cleanLoss: null,
      cleanAcc: null,
      noisyLoss: null,
      noisyAcc: null,
    });
  if (step % 5 === 0) writeJson('status.json', status('running', step));
  if (fs.existsSync(path.join(dir, 'STOP'))) stop = true;
  if (stop || step >= steps) {
    clearInterval(timer);
    const state = stop ? 'stopped' : 'completed';
    ev({ type: 'status', step, state });
    writeJson('status.json', status(state, step));
    writeJson('summary.json', {
      runId,
      state,
      steps: step,
      epochs: step / 10,
      wallSeconds: 1,
      backend: 'fake',
      // FAKE_CLI_PEAK: a summary with an early peak (a run another can be compared with), else none
      peakTrF: process.env.FAKE_CLI_PEAK ? 10 + Math.max(0, step - 31) * 2 : null,
      peakTrFRaw: null,
      peakStep: process.env.FAKE_CLI_PEAK ? Math.max(1, step - 1) : null,
      maxTrF: 10 + step * 2,
      trFi: null,
      trFiStep: null,
      lossThreshold: 1,
      finalTrF: 10,
      finalTrainLoss: 1,
      finalTestLoss: 1,
      finalTestAcc: 0.55,
      bestTestAcc: 0.55,
      finalTrainAcc: 0.5,
      finalCleanAcc: null,
      finalNoisyAcc: null,
    });
    process.exit(0);
  }
}, msPerStep);
