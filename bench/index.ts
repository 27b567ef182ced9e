// `npm run bench [-- fisher|penalty|backends|reader|torch|webview|detector ...]`: the speed targets of Fisher Lens (and the
// detector's precision and recall), measured side by side in
// one run on this machine (ratios; the machine is shared and noisy, so absolute times drift).
import { runFisherBench } from './fisher';
import { runPenaltyOverheadBench, runBackendBench } from './train';

async function main() {
  const argv = process.argv.slice(2);
  const which = argv.filter(
    (a, i) =>
      !a.startsWith('-') &&
      !['--mb', '--python', '--points', '--batch-ms', '--shots'].includes(argv[i - 1] ?? ''),
  );
  const all = which.length === 0;
  if (which.includes('webview')) {
    console.log('\n## Monitor webview in Chromium: frame times while a long run streams in');
    const { runWebviewBench } = await import('./webview');
    const num = (flag: string) => {
      const at = argv.indexOf(flag);
      return at >= 0 ? Number(argv[at + 1]) : undefined;
    };
    process.exitCode = await runWebviewBench({
      points: num('--points'),
      batchMs: num('--batch-ms'),
      profile: argv.includes('--profile'),
      shots: argv.includes('--shots') ? argv[argv.indexOf('--shots') + 1] : undefined,
    });
    if (which.length === 1) return;
  }
  if (all || which.includes('reader')) {
    const mbAt = argv.indexOf('--mb');
    console.log(
      '\n## Reading a big events.jsonl in the extension host (chunked, bounded history, one view snapshot)',
    );
    const { runReaderBench } = await import('./reader');
    runReaderBench(mbAt >= 0 ? Number(argv[mbAt + 1]) : 600);
    if (which.length === 1) return;
  }
  if (all || which.includes('detector')) {
    console.log(
      '\n## The explosion warning on the labelled corpus (precision, recall; bench/detector-corpus.json)',
    );
    const { runDetectorBench } = await import('./detector');
    runDetectorBench();
    if (which.length === 1) return;
  }
  if (all || which.includes('torch')) {
    console.log(
      '\n## PyTorch engine (torch-cpu) next to plain PyTorch and the wasm engine (MLP, SimpleCNN; batch 128)',
    );
    const { runTorchBench } = await import('./torch');
    const pyAt = argv.indexOf('--python');
    await runTorchBench({ python: pyAt >= 0 ? argv[pyAt + 1] : undefined });
    if (which.length === 1) return;
  }
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
