// Shared fixtures for the run-directory tests (not a test file itself).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveConfig, type RunConfig } from '../../src/shared/config';
import type { HeaderFields } from '../../src/runs/writer';

const made: string[] = [];
process.on('exit', () => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh temporary folder, removed when the test process exits. */
export function tmpDir(prefix = 'fl-runs-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}

export function testConfig(extra: Record<string, unknown> = {}): RunConfig {
  return resolveConfig({
    name: 'small lr',
    dataset: { name: 'synthetic', trainSize: 256, testSize: 64 },
    model: { arch: 'mlp', hidden: [16] },
    optimizer: { lr: 0.001, batchSize: 32 },
    schedule: { steps: 1000 },
    fisher: { probeSize: 16, warmupSteps: 20, lossThreshold: 1 },
    ...extra,
  });
}

export function testHeader(totalSteps = 1000): HeaderFields {
  return {
    backend: 'cpu',
    backendRejections: [{ backend: 'wasm', reason: 'not installed' }],
    dataset: {
      name: 'synthetic',
      trainSize: 256,
      testSize: 64,
      inputShape: [8, 8, 1],
      numClasses: 10,
      noisyCount: 0,
    },
    model: { arch: 'mlp', paramCount: 1234 },
    seed: 0,
    stepsPerEpoch: 8,
    totalSteps,
    version: '0.1.0-test',
  };
}

/** A controllable clock. */
export function fakeClock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

/** Poll `cond` every 10 ms until true or `timeoutMs` passes. */
export async function waitFor(
  cond: () => boolean,
  timeoutMs = 3000,
  what = 'condition',
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const SRC = path.resolve(__dirname, '../../src');
