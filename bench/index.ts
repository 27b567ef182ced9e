// `npm run bench [-- fisher|penalty|backends ...]`: the speed targets of Fisher Lens, measured side by side in
// one run on this machine (ratios; the machine is shared and noisy, so absolute times drift).
import { runFisherBench } from './fisher';
import { runPenaltyOverheadBench, runBackendBench } from './train';

async function main() {
  const which = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const all = which.length === 0;
  const { tfjs } = await import('../src/trainer/backend');
  if (all || which.includes('fisher')) {
    console.log('\n## Exact Tr(F) over 128 examples: vectorised vs naive per-example loop (wasm)');
    await runFisherBench({ backend: 'wasm' });
  }
  if (all || which.includes('penalty')) {
    console.log('\n## Fisher penalty overhead in the training loop (wasm, batch 128)');
    if (tfjs().getBackend() !== 'wasm') {
      const { selectBackend } = await import('../src/trainer/backend');
      await selectBackend('wasm');
    }
    await runPenaltyOverheadBench();
  }
  if (all || which.includes('backends')) {
    console.log('\n## Step time (forward + backward, batch 128) per backend');
    await runBackendBench();
  }
}
void main();
