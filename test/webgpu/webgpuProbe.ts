// Whether Dawn finds a WebGPU adapter here, probed once in a child process (as `doctor` does): null when it does,
// else the reason the webgpu tests skip with (scripts/test.mjs fails instead under FISHER_LENS_WEBGPU_REQUIRED=1).
import { spawnSync } from 'node:child_process';
import path from 'node:path';

let probed: string | null | undefined;

export function webgpuUnavailable(): string | null {
  if (probed !== undefined) return probed;
  const root = path.resolve(__dirname, '..', '..');
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      "require('./src/trainer/backend').probeOne('webgpu').then((p) => { console.log(JSON.stringify(p)); require('./src/trainer/backend').releaseBackends(); })",
    ],
    { cwd: root, encoding: 'utf8', timeout: 120_000 },
  );
  let p: { ok: boolean; detail: string } | undefined;
  try {
    p = JSON.parse((r.stdout ?? '').trim().split('\n').pop() ?? '');
  } catch {
    /* below */
  }
  probed = p?.ok
    ? null
    : `no WebGPU adapter here (${p?.detail ?? `probe exited ${r.status ?? r.signal}: ${(r.stderr ?? '').trim().split('\n').pop()}`}); on Debian 12: scripts/setup-lavapipe.sh DIR && source DIR/env.sh`;
  return probed;
}
