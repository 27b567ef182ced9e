/**
 * Terminal output of `fisher-lens train`: a progress bar (step, loss, Tr(F), ETA) on a TTY, plain periodic lines
 * otherwise, or the run events as NDJSON on stdout with `--json`.
 */
import cliProgress from 'cli-progress';
import type { RunEvent, RunSummary } from '../shared/protocol';

export interface Reporter {
  onEvent(e: RunEvent): void;
  done(summary: RunSummary): void;
}

/** Terminal output is one line per message: never a stack trace. */
const firstLine = (m: string) => String(m).split('\n')[0];

const fmt = (v: number | null | undefined, digits = 4) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toPrecision(digits));

export function createReporter(opts: { json: boolean; stream?: NodeJS.WriteStream; label?: string }): Reporter {
  if (opts.json) {
    return {
      onEvent: (e) => process.stdout.write(JSON.stringify(e) + '\n'),
      done: () => {},
    };
  }
  const stream = opts.stream ?? process.stderr;
  const label = opts.label ? `${opts.label} ` : '';
  let bar: cliProgress.SingleBar | undefined;
  let total = 0;
  let trF: number | null = null;
  let loss: number | null = null;
  let lastPlain = 0;
  const payload = () => ({ loss: fmt(loss), trf: fmt(trF) });
  return {
    onEvent(e) {
      switch (e.type) {
        case 'header':
          total = e.totalSteps;
          stream.write(`${label}run ${e.runId}: ${e.model.arch} (${e.model.paramCount.toLocaleString('en')} parameters) on ${e.dataset.name} ` +
            `(${e.dataset.trainSize} train / ${e.dataset.testSize} test), backend ${e.backend}, ${total} steps\n`);
          for (const r of e.backendRejections) stream.write(`  (backend ${r.backend} not used: ${r.reason})\n`);
          if (stream.isTTY) {
            bar = new cliProgress.SingleBar(
              { format: `${label}{bar} {percentage}% | step {value}/{total} | loss {loss} | Tr(F) {trf} | ETA {eta_formatted}`, stream, hideCursor: true, etaBuffer: 50, fps: 5 },
              cliProgress.Presets.shades_classic,
            );
            bar.start(total, 0, payload());
          }
          break;
        case 'step':
          loss = e.loss;
          if (bar) bar.update(e.step, payload());
          else if (Date.now() - lastPlain > 5000 || e.step === total) {
            lastPlain = Date.now();
            stream.write(`${label}step ${e.step}/${total} loss ${fmt(loss)} Tr(F) ${fmt(trF)} (${Math.round(e.examplesPerSec ?? 0)} ex/s)\n`);
          }
          break;
        case 'fisher':
          trF = e.trF;
          bar?.update(e.step, payload());
          break;
        case 'detector':
        case 'log':
          // The failure's log line (with its stack) stays in events.jsonl: the closing line names the error.
          if (e.type === 'log' && e.level === 'error') break;
          if (bar) bar.stop();
          stream.write(`${label}${e.type === 'log' ? `[${e.level}] ` : ''}${firstLine(e.message)}\n`);
          if (bar) bar.start(total, (e as { step?: number }).step ?? 0, payload());
          break;
        case 'eval':
          if (!bar) stream.write(`${label}eval @${e.step}: test acc ${(100 * e.testAcc).toFixed(2)}% loss ${fmt(e.testLoss)}\n`);
          break;
        default:
          break;
      }
    },
    done(s) {
      bar?.stop();
      stream.write(`${label}${s.state} after ${s.steps} steps (${s.wallSeconds.toFixed(1)} s): ` +
        `peak Tr(F) ${fmt(s.peakTrF)}${s.peakStep !== null ? ` at step ${s.peakStep}` : ''}, Tr(F_i) ${fmt(s.trFi)}, ` +
        `test acc ${s.finalTestAcc === null ? '–' : (100 * s.finalTestAcc).toFixed(2) + '%'}${s.error ? ` — ${firstLine(s.error)}` : ''}\n`);
    },
  };
}
