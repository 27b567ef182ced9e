/**
 * Terminal progress of a reproduction: runs done / total, the current run's step, and an ETA from the measured
 * seconds per step of this invocation (weighted by each run's step count). A cli-progress bar on a TTY, one
 * plain line per finished run otherwise (CI logs).
 */
import { eta as hms } from '../shared/format';
import cliProgress from 'cli-progress';

export interface ReproProgress {
  /** Called once: all planned runs (search + claims) and their total steps. */
  start(totalRuns: number, totalSteps: number): void;
  /** `work`: the run's steps weighted by their cost (orchestrate's stepWeight). */
  skipped(id: string, work: number): void;
  /** `weight`: the cost of one of its steps relative to an unpenalised MLP step (1 when omitted). */
  runStarted(id: string, steps: number, weight?: number): void;
  step(step: number): void;
  runDone(id: string, state: string, seconds: number, line: string): void;
  log(line: string): void;
  stop(): void;
}

/** ETA bookkeeping, separate from the display so it is testable. */
export class Eta {
  private doneSteps = 0;
  private trainedSteps = 0;
  private trainedSeconds = 0;
  private current = 0;
  private currentStart = 0;
  constructor(
    private totalSteps: number,
    private now: () => number = () => Date.now(),
  ) {}
  skip(steps: number) {
    this.doneSteps += steps;
  }
  begin() {
    this.current = 0;
    this.currentStart = this.now();
  }
  at(step: number) {
    this.current = step;
  }
  end(steps: number) {
    this.doneSteps += steps;
    this.trainedSteps += steps;
    this.trainedSeconds += (this.now() - this.currentStart) / 1000;
    this.current = 0;
  }
  /** Seconds left, or null before anything was measured. */
  remaining(): number | null {
    const elapsedCurrent = this.current > 0 ? (this.now() - this.currentStart) / 1000 : 0;
    const steps = this.trainedSteps + this.current;
    const secs = this.trainedSeconds + elapsedCurrent;
    if (steps < 20 || secs <= 0) return null;
    return Math.max(0, this.totalSteps - this.doneSteps - this.current) * (secs / steps);
  }
}

export function createReproProgress(
  opts: { stream?: NodeJS.WriteStream; silent?: boolean } = {},
): ReproProgress {
  if (opts.silent) {
    return {
      start() {},
      skipped() {},
      runStarted() {},
      step() {},
      runDone() {},
      log() {},
      stop() {},
    };
  }
  const stream = opts.stream ?? process.stderr;
  let bar: cliProgress.SingleBar | null = null;
  let eta = new Eta(1);
  let totalRuns = 0;
  let done = 0;
  let runId = '';
  let runSteps = 0;
  let runWeight = 1;
  let runStep = 0;
  const etaText = () => {
    const r = eta.remaining();
    // An upper bound: the total is the plan's longest (every (e) length rule running to its budget).
    return r === null ? 'estimating' : `≤ ${hms(r)}`;
  };
  const payload = () => ({
    runs: `${done}/${totalRuns}`,
    run: runId,
    rs: `${runStep}/${runSteps}`,
    etaText: etaText(),
  });
  const say = (line: string) => {
    if (bar) {
      bar.stop();
      stream.write(line + '\n');
      bar.start(totalRuns, done, payload());
    } else stream.write(line + '\n');
  };
  let lastRender = 0;
  return {
    start(n, steps) {
      totalRuns = n;
      eta = new Eta(steps);
      if (stream.isTTY) {
        bar = new cliProgress.SingleBar(
          {
            format: 'reproduce {bar} runs {runs} | {run} step {rs} | ETA {etaText}',
            stream,
            hideCursor: true,
            fps: 2,
            barsize: 20,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(n, 0, payload());
      }
    },
    skipped(id, work) {
      done++;
      eta.skip(work);
      say(`[${done}/${totalRuns}] ${id}: already completed, skipped`);
    },
    runStarted(id, steps, weight = 1) {
      runId = id;
      runSteps = steps;
      runWeight = weight;
      runStep = 0;
      eta.begin();
      bar?.update(done, payload());
      if (!bar) stream.write(`[${done + 1}/${totalRuns}] ${id}: training ${steps} steps…\n`);
    },
    step(s) {
      runStep = s;
      eta.at(s * runWeight);
      const t = Date.now();
      if (bar && t - lastRender > 500) {
        lastRender = t;
        bar.update(done, payload());
      }
    },
    runDone(id, state, seconds, line) {
      eta.end(runSteps * runWeight);
      done++;
      say(
        `[${done}/${totalRuns}] ${id}: ${state} in ${hms(seconds)}${line ? ` — ${line}` : ''}; ETA ${etaText()}`,
      );
    },
    log: say,
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}
