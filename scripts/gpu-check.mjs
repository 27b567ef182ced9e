// `npm run gpu-check [-- --out FILE --device cuda]`: python/gpu_check.py (doctor, cuda-vs-cpu parity, step times,
// exact Tr(F) over 128, FP-every-10 overhead) with `fisher-lens doctor --json` added; one JSON file out.
// The interpreter: --python EXE, else $FISHER_LENS_PYTHON, else python3.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const argv = process.argv.slice(2);
const pyAt = argv.indexOf('--python');
const python = pyAt >= 0 ? argv[pyAt + 1] : process.env.FISHER_LENS_PYTHON || 'python3';
const rest = pyAt >= 0 ? argv.filter((_, i) => i !== pyAt && i !== pyAt + 1) : argv;
const outAt = rest.indexOf('--out');
const out = path.resolve(outAt >= 0 ? rest[outAt + 1] : 'gpu-check.json');
if (outAt < 0) rest.push('--out', out);

const doctor = spawnSync(
  process.execPath,
  [path.join(root, 'bin', 'fisher-lens.js'), 'doctor', '--json', '--python', python],
  { encoding: 'utf8' },
);
const r = spawnSync(python, [path.join(root, 'python', 'gpu_check.py'), ...rest], {
  stdio: 'inherit',
  env: { ...process.env, PYTHONPATH: path.join(root, 'python'), PYTHONDONTWRITEBYTECODE: '1' },
});
if (r.error) {
  console.error(`gpu-check: cannot run ${python}: ${r.error.message}`);
  process.exit(2);
}
if (fs.existsSync(out)) {
  const report = JSON.parse(fs.readFileSync(out, 'utf8'));
  try {
    report.fisherLensDoctor = JSON.parse(doctor.stdout.trim().split('\n').pop());
  } catch {
    report.fisherLensDoctor = { error: (doctor.stderr || '').trim().split('\n').pop() ?? null };
  }
  fs.writeFileSync(out, JSON.stringify(report, null, 1) + '\n');
}
process.exit(r.status ?? 1);
