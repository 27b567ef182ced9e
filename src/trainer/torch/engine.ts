/**
 * The PyTorch engine: a Python child (`python -m fisher_lens_engine`, python/README.md) that computes the run's
 * events; everything else stays with the loop (../loop): run folder, detector, divergence, summary, stopping.
 *
 * The child runs in lockstep (`--lockstep`): the loop's pull of {@link TorchEngine.step} sends `{"cmd":"step"}`
 * and the child takes exactly that step, so a stop, an abort or a divergence decided after step N leaves the
 * engine at step N, as the tfjs engine. Every stdout line is validated (the `engine` and `end` lines against
 * ./protocol, the rest against the run-events schema); a child that dies, exits without `end` or sends an
 * invalid line ends the run `failed` with a one-line reason, its stderr going into the run's log events.
 * The child has its own process group (a terminal's ^C reaches only the trainer, which stops it after the
 * current step) and `--stop-on-eof` (a trainer that dies takes the child with it).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { ConfigError, totalSteps, type RunConfig } from '../../shared/config';
import { runEventErrors, type BackendRejection, type LogEvent } from '../../shared/protocol';
import type { Engine, EngineEvent, EngineStart } from '../engine';
import { DataError, mnistDir } from '../data';
import { VERSION } from '../version';
import { endLineProblems, engineLineProblems, type EndLine, type EngineLine } from './protocol';
import { engineEnv, engineSourceDir, type TorchDevice } from './python';

/** A usable torch backend, chosen by ../backend. */
export interface TorchChoice {
  backend: 'torch-cuda' | 'torch-mps' | 'torch-cpu';
  device: TorchDevice;
  python: string;
  /** Backends considered before it and why they were not taken (the header's backendRejections). */
  rejections: BackendRejection[];
  detail: string;
}

type Item =
  | { kind: 'event'; e: EngineEvent }
  | { kind: 'engine'; line: EngineLine }
  | { kind: 'end'; line: EndLine }
  | { kind: 'invalid'; message: string }
  | { kind: 'exit'; code: number | null; signal: NodeJS.Signals | null };

const STDERR_KEEP = 256 * 1024;
const ENGINE_EVENT_TYPES = new Set(['step', 'fisher', 'eval', 'log']);

const firstLine = (s: string) => (s.split('\n').find((l) => l.trim()) ?? s).trim().slice(0, 500);

/** The child ended the run in a way the loop must record as `failed`. */
export class TorchEngineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TorchEngineError';
  }
}

export class TorchEngine implements Engine {
  private child?: ChildProcessWithoutNullStreams;
  private tmp?: string;
  private readonly items: Item[] = [];
  private wake?: () => void;
  private stderr = '';
  /** The first line of the last `log` error the child sent (a Python exception). */
  private pythonError: string | null = null;
  private exited = false;
  private ended: EndLine | null = null;
  private taken = 0;
  private stderrReported = false;
  private readonly onExit = () => this.killNow();

  /** @param baseDir folder a relative `dataset.path` resolves against (a resolved config has none). */
  constructor(
    private readonly choice: TorchChoice,
    private readonly baseDir?: string,
  ) {}

  async start(cfg: RunConfig): Promise<EngineStart> {
    const dir = engineSourceDir();
    if (!dir) throw new TorchEngineError("the PyTorch engine's sources are missing");
    const extras: Record<string, unknown> = { baseDir: this.baseDir ?? process.cwd() };
    if (cfg.dataset.name === 'mnist' && cfg.dataset.path === undefined)
      extras.mnistDir = mnistDir(); // a DataError (no MNIST here) is an input error, before anything runs
    if (cfg.dataset.name === 'fashion-mnist' && cfg.dataset.path === undefined) {
      try {
        extras.fashionMnistDir = path.dirname(require.resolve('fashion-mnist/package.json'));
      } catch {
        /* the engine names what is missing */
      }
    }
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fisher-lens-torch-'));
    const file = path.join(this.tmp, 'config.json');
    fs.writeFileSync(file, JSON.stringify({ ...cfg, _engine: extras }), { flag: 'wx' });
    const child = spawn(
      this.choice.python,
      [
        '-m',
        'fisher_lens_engine',
        '--config',
        file,
        '--device',
        this.choice.device,
        '--checkpoint-dir',
        path.join(this.tmp, 'checkpoint'),
        '--stop-on-eof',
        '--lockstep',
      ],
      { env: engineEnv(dir), stdio: ['pipe', 'pipe', 'pipe'], detached: true },
    );
    this.child = child;
    process.on('exit', this.onExit);
    child.stdin.on('error', () => {
      /* the child is gone: its exit is reported */
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      this.stderr = (this.stderr + s).slice(-STDERR_KEEP);
    });
    const rl = readline.createInterface({ input: child.stdout, crlfDelay: Infinity });
    rl.on('line', (l) => this.onLine(l));
    let spawnError: Error | null = null;
    child.on('error', (e) => {
      spawnError = e;
    });
    child.on('close', (code, signal) => {
      this.exited = true;
      if (spawnError) this.stderr += `\n${spawnError.message}`;
      this.push({ kind: 'exit', code, signal });
    });

    let first = await this.next();
    // A failure before the engine line arrives as an error log, then the exit: wait for the exit so that input
    // errors (unreadable data, a model that does not fit the data) are reported as such, not as "unexpected output".
    while (first.kind === 'event' && first.e.type === 'log' && first.e.level === 'error')
      first = await this.next();
    if (first.kind !== 'engine') {
      this.killNow();
      if (first.kind === 'exit' && this.pythonError?.startsWith('DataError: '))
        throw new DataError(this.pythonError.slice('DataError: '.length));
      if (first.kind === 'exit' && this.pythonError?.startsWith('ConfigError: '))
        throw new ConfigError([this.pythonError.slice('ConfigError: '.length)]);
      throw new TorchEngineError(this.reason(first, 'before it started'));
    }
    const e = first.line;
    if (e.totalSteps !== totalSteps(cfg)) {
      this.killNow();
      throw new TorchEngineError(
        `the torch engine plans ${e.totalSteps} steps, the config ${totalSteps(cfg)}`,
      );
    }
    const versions: Record<string, string> = { engine: e.engineVersion, torch: e.torch };
    if (e.python) versions.python = e.python;
    if (e.cuda) versions.cuda = e.cuda;
    return {
      header: {
        probe: { split: 'train', indices: e.probe.indices },
        backend: this.choice.backend,
        backendRejections: this.choice.rejections,
        dataset: e.dataset,
        model: e.model,
        seed: e.seed,
        stepsPerEpoch: e.stepsPerEpoch,
        totalSteps: e.totalSteps,
        version: VERSION,
        engine: { name: 'torch', device: e.device, deviceName: e.deviceName, versions },
      },
      notes: [
        {
          type: 'log',
          t: Date.now(),
          level: 'info',
          message: `engine torch ${e.engineVersion} (python pid ${e.pid}): torch ${e.torch} on ${e.device} (${e.deviceName})${e.threads ? `, ${e.threads} threads` : ''}, ${this.choice.python}`,
        },
      ],
    };
  }

  async *step(): AsyncGenerator<EngineEvent> {
    this.send({ cmd: 'step' });
    for (;;) {
      const it = await this.next();
      if (it.kind === 'event') {
        yield it.e;
        if (it.e.type === 'step') {
          this.taken = it.e.step;
          return;
        }
        continue;
      }
      yield* this.fail(it, `before step ${this.taken + 1}`);
    }
  }

  async *finish(): AsyncGenerator<EngineEvent> {
    this.send({ cmd: 'stop' });
    for (;;) {
      const it = await this.next();
      if (it.kind === 'event') {
        if (it.e.type !== 'step') yield it.e; // a step line cannot come in lockstep; never recorded
        continue;
      }
      if (it.kind === 'end') {
        this.ended = it.line;
        return;
      }
      yield* this.fail(it, 'in its final measurement');
    }
  }

  async saveCheckpoint(dir: string): Promise<void> {
    const src = this.ended?.checkpoint;
    if (!src) throw new TorchEngineError('the torch engine wrote no checkpoint');
    for (const f of ['params.json', 'params.bin'])
      fs.copyFileSync(path.join(src, f), path.join(dir, f), fs.constants.COPYFILE_EXCL);
  }

  close(): LogEvent[] {
    const out: LogEvent[] = [];
    if (this.child && !this.exited) {
      // Divergence or an error: stop the child without a final measurement; it exits on the abort (or EOF).
      this.send({ cmd: 'abort' });
      this.child.stdin.end();
      const c = this.child;
      setTimeout(() => {
        if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      }, 10_000).unref();
    }
    process.off('exit', this.onExit);
    if (this.stderr.trim() && !this.stderrReported)
      out.push({
        type: 'log',
        t: Date.now(),
        level: 'info',
        message: `torch engine stderr:\n${this.stderr.trimEnd()}`,
      });
    if (this.tmp) fs.rmSync(this.tmp, { recursive: true, force: true });
    this.tmp = undefined;
    return out;
  }

  // ---- the child's lines ------------------------------------------------------------------------

  private onLine(line: string): void {
    if (!line.trim()) return;
    let x: unknown;
    try {
      x = JSON.parse(line);
    } catch {
      // Something in the child printed to stdout (a library): keep it, but it is not an event.
      this.push({
        kind: 'event',
        e: {
          type: 'log',
          t: Date.now(),
          level: 'warn',
          message: `torch engine printed a line that is not JSON: ${line.slice(0, 500)}`,
        },
      });
      return;
    }
    const type = (x as { type?: unknown })?.type;
    if (type === 'engine') {
      const p = engineLineProblems(x);
      this.push(
        p.length
          ? { kind: 'invalid', message: `invalid engine line: ${p.join('; ')}` }
          : { kind: 'engine', line: x as EngineLine },
      );
      return;
    }
    if (type === 'end') {
      const p = endLineProblems(x);
      this.push(
        p.length
          ? { kind: 'invalid', message: `invalid end line: ${p.join('; ')}` }
          : { kind: 'end', line: x as EndLine },
      );
      return;
    }
    if (typeof type !== 'string' || !ENGINE_EVENT_TYPES.has(type)) {
      this.push({
        kind: 'invalid',
        message: `unexpected line of type ${JSON.stringify(type)?.slice(0, 100)}`,
      });
      return;
    }
    const err = runEventErrors(x);
    if (err) {
      this.push({ kind: 'invalid', message: `invalid ${err}` });
      return;
    }
    const e = x as EngineEvent;
    if (e.type === 'log' && e.level === 'error') this.pythonError = firstLine(e.message);
    this.push({ kind: 'event', e });
  }

  private push(it: Item): void {
    this.items.push(it);
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async next(): Promise<Item> {
    while (!this.items.length) await new Promise<void>((r) => (this.wake = r));
    const it = this.items[0];
    // The exit stays queued: every later read sees it too.
    if (it.kind !== 'exit') this.items.shift();
    return it;
  }

  private send(msg: object): void {
    const c = this.child;
    if (!c || this.exited || c.stdin.destroyed || c.stdin.writableEnded) return;
    c.stdin.write(JSON.stringify(msg) + '\n');
  }

  /** The one-line reason for an unexpected item. */
  private reason(it: Item, when: string): string {
    const pid = this.child?.pid;
    const who = `the torch engine (python pid ${pid ?? '?'})`;
    const err = lastStderrLine(this.stderr);
    switch (it.kind) {
      case 'invalid':
        return `${who} sent an ${it.message}`;
      case 'end':
        return `${who} ended on its own (${it.line.state}${it.line.message ? `: ${it.line.message}` : ''}) ${when}`;
      case 'engine':
        return `${who} sent a second engine line`;
      case 'exit':
        if (this.pythonError) return `${who} failed ${when}: ${this.pythonError}`;
        if (it.signal) return `${who} was killed by ${it.signal} ${when}${err ? ` (${err})` : ''}`;
        return `${who} exited with code ${it.code} ${when} without an end line${err ? `: ${err}` : ''}`;
      default:
        return `${who}: unexpected output ${when}`;
    }
  }

  /** Record the child's stderr as an error log event, stop it, and throw the one-line reason. */
  private *fail(it: Item, when: string): Generator<EngineEvent, never> {
    const message = this.reason(it, when);
    this.killNow();
    if (this.stderr.trim()) {
      this.stderrReported = true;
      yield {
        type: 'log',
        t: Date.now(),
        level: 'error',
        message: `torch engine stderr:\n${this.stderr.trimEnd()}`,
      };
    }
    throw new TorchEngineError(message);
  }

  /** Kill the child now (protocol error, failure, the trainer exiting) and remove the temporary folder. */
  private killNow(): void {
    const c = this.child;
    if (c && !this.exited && c.exitCode === null && c.signalCode === null) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
    if (this.tmp && !this.exited) {
      // Only at process exit or failure: the folder holds nothing the run still needs.
      try {
        fs.rmSync(this.tmp, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
      this.tmp = undefined;
    }
  }
}

function lastStderrLine(s: string): string {
  const lines = s
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return (lines.pop() ?? '').slice(0, 300);
}
