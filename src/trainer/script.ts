/**
 * `fisher-lens run -- python3 train.py …`: the user's own training script, monitored. The script creates a
 * `fisher_lens_engine.Monitor` (python/fisher_lens_engine/monitor.py); this side launches it with a channel —
 * events on fd 3, stop requests on fd 4 (FISHER_LENS_EVENTS_FD / FISHER_LENS_CONTROL_FD) — and owns everything
 * else as for a built-in run: the run folder (one writer), the detector, the summary, STOP and signals.
 *
 * - The run folder is created when the Monitor says hello (its model, probe and device); a script that ends before
 *   that records nothing and the command fails naming why.
 * - Every event line is validated against the run-format schemas; an invalid one is logged (at most a few times)
 *   and skipped: a monitoring glitch never ends the user's training.
 * - STOP file, Stop in the editor or a first SIGINT/SIGTERM/SIGHUP: a stop request goes to the script, which sees it
 *   at its next `mon.should_stop()`; a second signal ends the script (SIGTERM, then SIGKILL after 5 s) and the run
 *   at once. A run whose stop was requested ends `stopped` however the script exits.
 * - The script exits 0: `completed` (or `stopped`); otherwise `failed` with the exit code and the last line of its
 *   stderr (its last lines also go to the run's log).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { Type, type Static } from '@sinclair/typebox';
import {
  HeaderEventSchema,
  runEventErrors,
  schemaProblems,
  scriptRunName,
  type RunEvent,
  type RunSummary,
  type ScriptRunConfig,
} from '../shared/protocol';
import { RunRecorder, type EventSink } from '../runs/recorder';
import { makeRunId } from '../runs/runId';
import { engineEnv, engineSourceDir } from './torch/python';
import { VERSION } from './version';
import { onStopSignals } from './signals';

const H = HeaderEventSchema.properties;
const Str = (n: number) => Type.String({ maxLength: n });
const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Integer>>(
  t: T,
) => Type.Union([t, Type.Null()]);

/** The Monitor's first line: what the run header needs. */
export const HelloSchema = Type.Object(
  {
    type: Type.Literal('hello'),
    t: Type.Number(),
    api: Type.Literal(1),
    name: Type.Optional(Nullable(Str(200))),
    model: Type.Object({ arch: Str(100), paramCount: Type.Integer({ minimum: 0 }) }),
    probeSize: Type.Integer({ minimum: 1 }),
    numClasses: Type.Integer({ minimum: 1 }),
    inputShape: Type.Array(Type.Integer({ minimum: 0 }), { maxItems: 8 }),
    every: Type.Integer({ minimum: 1 }),
    seed: Type.Number(),
    totalSteps: Type.Optional(Nullable(Type.Integer({ minimum: 0 }))),
    stepsPerEpoch: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
    engine: H.engine,
  },
  { additionalProperties: true },
);
export type Hello = Static<typeof HelloSchema>;

const EndSchema = Type.Object(
  {
    type: Type.Literal('end'),
    step: Type.Integer({ minimum: 0 }),
    state: Type.Union([Type.Literal('completed'), Type.Literal('stopped')]),
    message: Type.Optional(Nullable(Str(10_000))),
  },
  { additionalProperties: true },
);

/** A user error before anything ran (bad command): exit 2, nothing written. */
export class ScriptLaunchError extends Error {
  override name = 'ScriptLaunchError';
}

export interface ScriptRunOptions {
  /** The command: executable, then its arguments. */
  command: string[];
  runsRoot: string;
  runId?: string;
  name?: string;
  cwd?: string;
  sinks?: EventSink[];
  /** Install SIGINT/SIGTERM/SIGHUP handlers (the CLI). */
  handleSignals?: boolean;
  /** Where the script's stdout goes (default: ours; `stderr` when ours carries NDJSON). */
  scriptStdout?: 'stdout' | 'stderr';
  /** How often the STOP file is looked for (ms). */
  pollMs?: number;
}

export interface ScriptRunResult {
  /** The run's summary; null when the script ended before its Monitor said hello (nothing recorded). */
  summary: RunSummary | null;
  runId: string | null;
  /** Why nothing was recorded, or the failure. */
  error: string | null;
  /** The process ended at once on a second signal. */
  endedAtOnce: boolean;
}

/** [H, W, C] of the run header from the Monitor's input shape (CHW for images, anything else flattened). */
export function headerInputShape(shape: number[]): [number, number, number] {
  if (shape.length === 3) return [shape[1], shape[2], shape[0]];
  if (shape.length === 2) return [shape[0], shape[1], 1];
  const n = shape.reduce((a, b) => a * b, 1);
  return [1, shape.length ? n : 1, 1];
}

/** The run's default name: the script file (`train.py` → `train`), else the executable's name. */
export function scriptName(command: string[]): string {
  const script = command.slice(1).find((a) => /\.py$/i.test(a));
  return scriptRunName(path.basename(script ?? command[0] ?? 'script').replace(/\.py$/i, ''));
}

const MAX_BAD_LINES_LOGGED = 5;
const STDERR_TAIL = 20;

export async function runScript(o: ScriptRunOptions): Promise<ScriptRunResult> {
  if (!o.command.length)
    throw new ScriptLaunchError('no command given: fisher-lens run -- python3 train.py');
  const engineDir = engineSourceDir();
  if (!engineDir)
    throw new ScriptLaunchError(
      'the Python package fisher_lens_engine (python/) is missing from this installation',
    );
  const cwd = path.resolve(o.cwd ?? process.cwd());
  const child = spawn(o.command[0], o.command.slice(1), {
    cwd,
    env: { ...engineEnv(engineDir), FISHER_LENS_EVENTS_FD: '3', FISHER_LENS_CONTROL_FD: '4' },
    stdio: ['inherit', 'pipe', 'pipe', 'pipe', 'pipe'],
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  // An executable that cannot start is an input error: nothing is written.
  const first = await Promise.race([
    spawnError.then((e) => ({ kind: 'error' as const, e })),
    new Promise<{ kind: 'spawned' }>((resolve) =>
      child.once('spawn', () => resolve({ kind: 'spawned' })),
    ),
  ]);
  if (first.kind === 'error') {
    const code = (first.e as NodeJS.ErrnoException).code;
    throw new ScriptLaunchError(
      code === 'ENOENT'
        ? `command not found: ${o.command[0]}`
        : `cannot start ${o.command[0]}: ${first.e.message}`,
    );
  }
  return new ScriptSession(o, child, cwd, exited).run();
}

class ScriptSession {
  private rec: RunRecorder | null = null;
  private stopReason: string | null = null;
  private stopSent = false;
  private badLines = 0;
  private end: Static<typeof EndSchema> | null = null;
  private readonly stderrTail: string[] = [];
  private protocolError: string | null = null;
  private endedAtOnce = false;
  private resolveAtOnce: (() => void) | null = null;

  constructor(
    private readonly o: ScriptRunOptions,
    private readonly child: ChildProcess,
    private readonly cwd: string,
    private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
  ) {}

  async run(): Promise<ScriptRunResult> {
    const out = this.o.scriptStdout === 'stderr' ? process.stderr : process.stdout;
    this.child.stdout!.on('data', (d: Buffer) => out.write(d));
    readline.createInterface({ input: this.child.stderr! }).on('line', (l) => {
      process.stderr.write(l + '\n');
      this.stderrTail.push(l);
      if (this.stderrTail.length > STDERR_TAIL) this.stderrTail.shift();
    });
    const events = this.child.stdio[3] as NodeJS.ReadableStream;
    const lines = readline.createInterface({ input: events, crlfDelay: Infinity });
    lines.on('line', (l) => this.onLine(l));
    const eventsDone = new Promise<void>((resolve) => lines.once('close', resolve));
    (this.child.stdio[4] as NodeJS.WritableStream).on('error', () => {}); // the script may not read it

    const poll = setInterval(() => {
      if (this.rec?.stopRequested()) this.requestStop('STOP file');
    }, this.o.pollMs ?? 250);
    const offSignals = this.o.handleSignals ? onStopSignals((sig) => this.onSignal(sig)) : () => {};
    const atOnce = new Promise<void>((resolve) => (this.resolveAtOnce = resolve));
    let ex: { code: number | null; signal: NodeJS.Signals | null };
    try {
      const r = await Promise.race([
        Promise.all([this.exited, eventsDone]).then(([e]) => e),
        atOnce.then(() => null),
      ]);
      ex = r ?? { code: null, signal: 'SIGTERM' };
    } finally {
      clearInterval(poll);
      offSignals();
    }
    return this.finish(ex);
  }

  private onLine(line: string): void {
    if (!line.trim() || this.endedAtOnce) return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      return this.bad(`not JSON: ${line.slice(0, 200)}`);
    }
    const type = (v as { type?: unknown })?.type;
    if (!this.rec) {
      if (type !== 'hello')
        return this.bad(`expected the Monitor's "hello" first, got ${JSON.stringify(type)}`);
      const p = schemaProblems(HelloSchema, v, 'hello');
      if (p.length) {
        this.protocolError = `the Monitor's first line is invalid: ${p.join('; ')}`;
        this.requestStop('its Monitor could not be recorded');
        return;
      }
      return this.start(v as Hello);
    }
    if (type === 'end') {
      if (!schemaProblems(EndSchema, v).length) this.end = v as Static<typeof EndSchema>;
      return;
    }
    if (type === 'header' || type === 'status' || type === 'detector')
      return this.bad(`a ${type} event is written by Fisher Lens, not by the script`);
    const err = runEventErrors(v);
    if (err) return this.bad(err);
    try {
      this.rec.append(v as Exclude<RunEvent, { type: 'header' }>);
    } catch {
      // A write error is kept by the writer: the run ends failed with it.
    }
  }

  private bad(why: string): void {
    this.badLines++;
    if (!this.rec) {
      this.protocolError ??= why;
      return;
    }
    if (this.badLines <= MAX_BAD_LINES_LOGGED)
      this.rec.recordSafe({
        type: 'log',
        level: 'warn',
        message: `ignored a line from the script's Monitor: ${why}${this.badLines === MAX_BAD_LINES_LOGGED ? ' (further ones are not logged)' : ''}`,
      });
  }

  private start(h: Hello): void {
    const name = scriptRunName(this.o.name ?? h.name ?? scriptName(this.o.command));
    const config: ScriptRunConfig = {
      kind: 'script',
      ...(name ? { name } : {}),
      command: this.o.command,
      cwd: this.cwd,
      fisher: { every: h.every, probeSize: h.probeSize },
      seed: h.seed,
    };
    const runId = this.o.runId ?? makeRunId(name || 'script', new Date(), this.o.runsRoot);
    try {
      this.rec = RunRecorder.create(
        this.o.runsRoot,
        runId,
        config,
        {
          backend: 'torch',
          backendRejections: [],
          dataset: {
            name: 'script',
            trainSize: 0,
            testSize: 0,
            inputShape: headerInputShape(h.inputShape),
            numClasses: h.numClasses,
            noisyCount: 0,
          },
          model: { arch: h.model.arch, paramCount: h.model.paramCount },
          seed: h.seed,
          stepsPerEpoch: h.stepsPerEpoch ?? 1,
          totalSteps: h.totalSteps ?? 0,
          version: VERSION,
          ...(h.engine ? { engine: h.engine } : {}),
        },
        { sinks: this.o.sinks },
      );
    } catch (e) {
      this.protocolError = `cannot create the run folder: ${(e as Error).message}`;
      this.requestStop('the run folder could not be created');
      return;
    }
    if (this.stopReason) this.sendStop();
  }

  private requestStop(reason: string): void {
    this.stopReason ??= reason;
    this.sendStop();
  }

  private sendStop(): void {
    if (this.stopSent || !this.stopReason) return;
    this.stopSent = true;
    const ctl = this.child.stdio[4] as NodeJS.WritableStream;
    try {
      ctl.write(JSON.stringify({ cmd: 'stop', reason: this.stopReason }) + '\n');
    } catch {
      // the script closed its end
    }
  }

  private onSignal(sig: NodeJS.Signals): void {
    if (!this.stopReason) {
      this.requestStop(`received ${sig}`);
      this.rec?.recordSafe({
        type: 'log',
        level: 'info',
        message: `received ${sig}: asked the script to stop (at its next mon.should_stop()); send it again to end it at once`,
      });
      return;
    }
    if (this.endedAtOnce) return;
    this.endedAtOnce = true;
    this.stopReason = `${this.stopReason}, then ${sig} (ended at once)`;
    this.child.kill('SIGTERM');
    const k = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    k.unref();
    this.resolveAtOnce?.();
  }

  private finish(ex: { code: number | null; signal: NodeJS.Signals | null }): ScriptRunResult {
    const tail = this.stderrTail.filter((l) => l.trim());
    const lastErr = tail.at(-1)?.trim();
    if (!this.rec) {
      const how =
        ex.signal !== null
          ? `was killed by ${ex.signal}`
          : ex.code === 0
            ? 'exited'
            : `exited with code ${ex.code}${lastErr ? ` (${lastErr.slice(0, 300)})` : ''}`;
      return {
        summary: null,
        runId: null,
        endedAtOnce: this.endedAtOnce,
        error:
          this.protocolError ??
          `the script ${how} before creating a fisher_lens_engine.Monitor: nothing was recorded`,
      };
    }
    const rec = this.rec;
    let state: 'completed' | 'stopped' | 'failed';
    let message: string | null;
    if (this.stopReason) {
      state = 'stopped';
      message = `stopped: ${this.stopReason}`;
    } else if (ex.code === 0) {
      state = this.end?.state ?? 'completed';
      message = state === 'stopped' ? `stopped: ${this.end?.message ?? 'by the script'}` : null;
    } else {
      state = 'failed';
      message =
        ex.signal !== null
          ? `the script was killed by ${ex.signal}`
          : `the script exited with code ${ex.code}${lastErr ? `: ${lastErr.slice(0, 500)}` : ''}`;
      if (tail.length)
        rec.recordSafe({
          type: 'log',
          level: 'error',
          message: `the script's last lines on stderr:\n${tail.join('\n')}`,
        });
    }
    if (rec.writeError) {
      state = 'failed';
      message = rec.writeError.message;
    }
    const summary = rec.finish(state, message);
    return {
      summary,
      runId: rec.runId,
      error: state === 'failed' ? message : null,
      endedAtOnce: this.endedAtOnce,
    };
  }
}
