/**
 * Terminal output of `fisher-lens train`, as sinks of the run's events: a progress bar (step, loss, Tr(F), ETA)
 * on a TTY and plain periodic lines otherwise (`progress`, on stderr), the run events as NDJSON on stdout
 * (`json`), or nothing (`quiet`: the launcher's mode, where the run folder is the only output).
 */
import cliProgress from 'cli-progress';
import type { RunEvent, RunSummary } from '../shared/protocol';
import { fixed, percent, prec, thousands } from '../shared/format';
import type { EventSink } from '../runs/recorder';

export type OutputMode = 'progress' | 'json' | 'quiet';

/** A sink of the run's events that also closes the output with the run's summary. */
export interface Reporter extends EventSink {
  done(summary: RunSummary): void;
}

/** Terminal output is one line per message: never a stack trace. */
const firstLine = (m: string) => String(m).split('\n')[0];

export function createReporter(opts: {
  mode: OutputMode;
  stream?: NodeJS.WriteStream;
  label?: string;
}): Reporter {
  if (opts.mode === 'json')
    return { event: (e) => void process.stdout.write(JSON.stringify(e) + '\n'), done: () => {} };
  if (opts.mode === 'quiet') return { event: () => {}, done: () => {} };
  return progressReporter(opts.stream ?? process.stderr, opts.label ? `${opts.label} ` : '');
}

function progressReporter(stream: NodeJS.WriteStream, label: string): Reporter {
  let bar: cliProgress.SingleBar | undefined;
  let total = 0;
  let trF: number | null = null;
  let loss: number | null = null;
  let lastPlain = 0;
  const payload = () => ({ loss: prec(loss), trf: prec(trF) });
  const header = (e: Extract<RunEvent, { type: 'header' }>) => {
    total = e.totalSteps;
    stream.write(
      `${label}run ${e.runId}: ${e.model.arch} (${thousands(e.model.paramCount)} parameters) on ${e.dataset.name} ` +
        `(${e.dataset.trainSize} train / ${e.dataset.testSize} test), backend ${e.backend}, ${total} steps\n`,
    );
    for (const r of e.backendRejections)
      stream.write(`  (backend ${r.backend} not used: ${r.reason})\n`);
    if (stream.isTTY) {
      bar = new cliProgress.SingleBar(
        {
          format: `${label}{bar} {percentage}% | step {value}/{total} | loss {loss} | Tr(F) {trf} | ETA {eta_formatted}`,
          stream,
          hideCursor: true,
          etaBuffer: 50,
          fps: 5,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0, payload());
    }
  };
  return {
    event(e) {
      switch (e.type) {
        case 'header':
          header(e);
          break;
        case 'step':
          loss = e.loss;
          if (bar) bar.update(e.step, payload());
          else if (Date.now() - lastPlain > 5000 || e.step === total) {
            lastPlain = Date.now();
            stream.write(
              `${label}step ${e.step}/${total} loss ${prec(loss)} Tr(F) ${prec(trF)} (${Math.round(e.examplesPerSec ?? 0)} ex/s)\n`,
            );
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
          stream.write(
            `${label}${e.type === 'log' ? `[${e.level}] ` : ''}${firstLine(e.message)}\n`,
          );
          if (bar) bar.start(total, (e as { step?: number }).step ?? 0, payload());
          break;
        case 'eval':
          if (!bar)
            stream.write(
              `${label}eval @${e.step}: test acc ${percent(e.testAcc)} loss ${prec(e.testLoss)}\n`,
            );
          break;
        default:
          break;
      }
    },
    done(s) {
      bar?.stop();
      stream.write(
        `${label}${s.state} after ${s.steps} steps (${fixed(s.wallSeconds, 1)} s): ` +
          `peak Tr(F) ${prec(s.peakTrF)}${s.peakStep !== null ? ` at step ${s.peakStep}` : ''}, Tr(F_i) ${prec(s.trFi)}, ` +
          `test acc ${percent(s.finalTestAcc)}${s.error ? ` — ${firstLine(s.error)}` : ''}\n`,
      );
    },
  };
}
