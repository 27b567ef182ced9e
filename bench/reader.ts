// `npm run bench -- reader [--mb 600]`: reading a big events.jsonl the way the extension host does (chunked
// EventsFileReader through RunTailer, bounded history, one view snapshot) — time, peak RSS, the longest stall of
// the event loop and the snapshot size. The file is generated in the temp folder and removed afterwards; the
// read runs in a child process so its peak RSS is its own.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Write `mb` MiB of events: a step line per step, Tr(F) every 10 steps, a detector event every 100k steps. */
export function writeBigEvents(
  file: string,
  mb: number,
): { bytes: number; steps: number; fisher: number } {
  const fd = fs.openSync(file, 'w');
  const t0 = 1_700_000_000_000;
  const header = {
    type: 'header',
    t: t0,
    schemaVersion: 1,
    runId: 'bench',
    backend: 'cpu',
    backendRejections: [],
    dataset: {
      name: 'synthetic',
      trainSize: 1000,
      testSize: 100,
      inputShape: [8, 8, 1],
      numClasses: 10,
      noisyCount: 0,
    },
    model: { arch: 'mlp', paramCount: 100 },
    seed: 0,
    stepsPerEpoch: 10,
    totalSteps: 1e8,
    host: 'bench',
    pid: 1,
    version: 'bench',
  };
  let buf = JSON.stringify(header) + '\n';
  let bytes = 0;
  let step = 0;
  let fisher = 0;
  const target = mb * 1024 * 1024;
  let spiked = false; // one Tr(F) spike half-way: it must survive every compaction
  while (bytes + buf.length < target) {
    step++;
    buf +=
      JSON.stringify({
        type: 'step',
        t: t0 + step * 50,
        step,
        epoch: step / 10,
        loss: 2 / Math.sqrt(step) + 0.01 * Math.sin(step),
        lr: 0.01,
        penalty: null,
        gradNorm: 1 + Math.cos(step / 7),
        examplesPerSec: 5000,
      }) + '\n';
    if (step % 10 === 0) {
      fisher++;
      buf +=
        JSON.stringify({
          type: 'fisher',
          t: t0 + step * 50,
          step,
          epoch: step / 10,
          trF:
            10 +
            Math.sin(step / 1000) +
            (!spiked && bytes >= target / 2 && (spiked = true) ? 1000 : 0),
          trFStderr: 0.1,
          probeSize: 128,
          trFB: 1,
          ms: 3,
        }) + '\n';
    }
    if (step % 100_000 === 0)
      buf +=
        JSON.stringify({
          type: 'detector',
          t: t0 + step * 50,
          step,
          kind: 'peak',
          value: 11,
          message: `peak at ${step}`,
        }) + '\n';
    if (buf.length > 4 << 20) {
      bytes += fs.writeSync(fd, buf);
      buf = '';
    }
  }
  bytes += fs.writeSync(fd, buf);
  fs.closeSync(fd);
  return { bytes, steps: step, fisher };
}

const CHILD = `
const { RunTailer } = require(${JSON.stringify(path.resolve(__dirname, '../src/runs/tailer'))});
const S = require(${JSON.stringify(path.resolve(__dirname, '../src/shared/series'))});
const dir = process.argv[2];
const series = S.createSeries('bench');
let events = 0, chunks = 0, maxGap = 0, last = performance.now();
const ticker = setInterval(() => { const t = performance.now(); maxGap = Math.max(maxGap, t - last); last = t; }, 5);
const t0 = performance.now();
const tailer = new RunTailer(dir, { onEvents: (e) => { chunks++; events += e.length; S.appendEvents(series, e); S.boundSeries(series, S.HOST_MAX_POINTS); }, onError: (e) => { throw e; } }, { pollMs: 0 });
tailer.ready.then(() => {
  const ms = performance.now() - t0;
  clearInterval(ticker);
  const snap = JSON.stringify({ type: 'snapshot', runId: 'bench', series: S.viewSeries(series), config: null, state: 'running', summary: null });
  tailer.dispose();
  console.log(JSON.stringify({ ms, events, chunks, maxGapMs: maxGap, maxRssMB: process.resourceUsage().maxRSS / 1024, hostPoints: { steps: series.steps.step.length, fisher: series.fisher.step.length }, snapshotBytes: Buffer.byteLength(snap), maxTrF: Math.max(...series.fisher.trF) }));
  process.exit(0);
});
`;

export function runReaderBench(mb = 600): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-bench-reader-'));
  try {
    const t = performance.now();
    const made = writeBigEvents(path.join(dir, 'events.jsonl'), mb);
    console.log(
      `generated ${(made.bytes / 1048576).toFixed(0)} MiB events.jsonl (${made.steps} steps, ${made.fisher} Tr(F) points) in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
    const childFile = path.join(dir, 'read.cjs');
    fs.writeFileSync(childFile, CHILD);
    const r = spawnSync(process.execPath, ['--import', 'tsx', childFile, dir], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    });
    if (r.status !== 0) throw new Error(`reader child failed: ${r.stderr}`);
    const m = JSON.parse(r.stdout.trim().split('\n').pop()!);
    console.log(
      `| file | read (first load) | events/s | peak RSS | longest event-loop stall | host points (steps, Tr(F)) | snapshot |`,
    );
    console.log(`| --- | --- | --- | --- | --- | --- | --- |`);
    console.log(
      `| ${(made.bytes / 1048576).toFixed(0)} MiB | ${(m.ms / 1000).toFixed(1)} s in ${m.chunks} chunks | ${Math.round(m.events / (m.ms / 1000)).toLocaleString('en')} | ${m.maxRssMB.toFixed(0)} MB | ${m.maxGapMs.toFixed(0)} ms | ${m.hostPoints.steps.toLocaleString('en')}, ${m.hostPoints.fisher.toLocaleString('en')} | ${(m.snapshotBytes / 1024).toFixed(0)} KiB |`,
    );
    if (m.maxTrF < 1000) console.log(`!! the Tr(F) spike did not survive (max ${m.maxTrF})`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
