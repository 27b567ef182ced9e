/**
 * `fisher-lens` command line: train, run (a user's own script), trace, doctor, demo, detect, reproduce, sweep. The top layer: a
 * thin entry over the trainer,
 * the runs folder and the reproduction (which gets the trainer as a runner, never imports it).
 * Exit codes: 0 completed/stopped, 1 failed (or an unexpected error), 2 invalid input (config, data, arguments;
 * nothing is written), 3 diverged. Every argument is checked before any work (loading data, probing backends).
 * Errors print as `fisher-lens: <message>`; stack traces only with `--debug` (or FISHER_LENS_DEBUG=1).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { Value } from '@sinclair/typebox/value';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  BACKENDS,
  ConfigError,
  ConfigFileError,
  LIMITS,
  parseConfig,
  readConfigFile,
  resolveDatasetPath,
  withResolvedDatasetPath,
  type BackendName,
  type RunConfig,
} from './shared/config';
import {
  AUTO_ORDER,
  BackendUnavailableError,
  ENGINE_AUTO_ORDER,
  probeAllBackends,
  probeOne,
  probeTorchBackends,
  releaseBackends,
  selectEngine,
  type BackendProbe,
  type ConcreteBackend,
  type EngineChoice,
} from './trainer/backend';
import { createReporter } from './trainer/progress';
import { VERSION } from './trainer/version';
import { registerReproduceCommand, optionsFromFlags } from './reproduce/command';
import { referenceFromRunDir, registerDetectCommand } from './detectCommand';
import type { Runner } from './reproduce/orchestrate';
import type { TraceOptions } from './trainer/trace';
import { checkRunIdFree, checkWritableDir, PreflightError } from './runs/preflight';
import { runIdProblem } from './runs/runId';
import { EXIT_CODES as EXIT, exitCodeForState } from './runs/exitCodes';
import { registerSweepCommand } from './sweep/command';
import { SweepUsageError } from './sweep/launch';
import { SlurmOptionsSchema, SweepFileError, type SlurmOptions } from './shared/sweep';
import { slurmRunner } from './sweep/slurmRunner';
import { haveSlurm } from './sweep/slurm';

/**
 * The script a sweep's runs are started with (`node <script> train …`): bin/fisher-lens.js beside dist/ (and
 * src/), else this bundle itself (dist/cli.js runs the CLI when started directly, as the extension does).
 */
const cliScript = () => {
  const bin = path.resolve(__dirname, '..', 'bin', 'fisher-lens.js');
  return fs.existsSync(bin) ? bin : __filename;
};

/** The reproduction's runner: one in-process `train()` per run, stoppable through the abort signal. */
export const trainRunner: Runner = async (spec, ctx) => {
  const { train } = await import('./trainer/train');
  const s = await train({
    config: spec.config,
    runsRoot: ctx.runsRoot,
    runId: spec.id,
    signal: ctx.signal,
    onEvent: (e) => {
      if (e.type === 'step') ctx.onStep(e.step);
    },
  });
  return { state: s.state, error: s.error ?? null };
};

/** Where the CLI writes its own messages (commander's help and errors included); tests capture them. */
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}
const processIO: CliIO = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
};

/** One invocation: its output and the exit code an action decided. */
interface Ctx {
  io: CliIO;
  code?: number;
}

const backendOption = () =>
  new Option('--backend <name>', 'compute backend (overrides the config)').choices([...BACKENDS]);

const pythonOption = () =>
  new Option(
    '--python <exe>',
    'Python interpreter with PyTorch for the torch backends (default: $FISHER_LENS_PYTHON, else python3 on the PATH)',
  );

/** One line naming the backend taken and why the ones before it were not. */
function backendLine(c: EngineChoice): string {
  const b = c.choice.backend;
  const rej = c.choice.rejections;
  return `backend ${b}${c.engine === 'torch' ? ` (PyTorch engine, ${c.choice.python})` : ''}${rej.length ? `; not taken: ${rej.map((r) => `${r.backend}: ${r.reason}`).join('; ')}` : ''}\n`;
}

const cut = (v: string) =>
  v.length > 60 ? `${JSON.stringify(v.slice(0, 59))}…` : JSON.stringify(v);

/** A decimal integer in [min, max] (no signs, exponents, hex or fractions). */
const intArg = (name: string, min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!/^[0-9]+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new InvalidArgumentError(
      `${name} must be an integer from ${min} to ${max} (got ${cut(v)})`,
    );
  }
  return n;
};
const positiveInt = (name: string, max: number = LIMITS.steps) => intArg(name, 1, max);

/** `reproduce --slurm <file>`: the sbatch settings (a sweep file's `slurm` object), validated; none: {}. */
function readSlurmOptions(file: string | undefined): SlurmOptions {
  if (file === undefined) return {};
  let v: unknown;
  try {
    v = JSON.parse(readConfigFile(file));
  } catch (e) {
    throw new UsageError(`--slurm: ${(e as Error).message}`);
  }
  const bad = [...Value.Errors(SlurmOptionsSchema, v)].slice(0, 3);
  if (bad.length)
    throw new UsageError(
      `--slurm: ${file}: ${bad.map((e) => `${e.path.slice(1).replace(/\//g, '.') || '(root)'}: ${e.message}`).join('; ')}`,
    );
  return v as SlurmOptions;
}

/** Invalid input found by the CLI itself: exit 2, the message names the argument. */
class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Read and validate a config file (size cap, regular files only, BOM accepted); errors name the file. */
function loadConfigFile(file: string): RunConfig {
  return parseConfig(readConfigFile(file), file);
}

/**
 * `dataset.path`, resolved against the config's folder, must be an existing, readable folder: checked before any
 * work so that the error names the field.
 */
function checkDatasetPath(cfg: RunConfig, configDir: string, configFile: string): void {
  const p = cfg.dataset.path;
  if (p === undefined || cfg.dataset.name === 'synthetic') return;
  const abs = resolveDatasetPath(p, configDir);
  const where = `dataset.path: ${cut(p)}${abs !== p ? ` (resolved to ${abs.length > 200 ? abs.slice(0, 199) + '…' : abs})` : ''}`;
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      `${configFile}: ${where} ${code === 'ENOENT' ? 'does not exist' : code === 'ENOTDIR' ? 'does not exist (a part of it is a file)' : `cannot be read (${code ?? (e as Error).message})`}; expected a folder with the dataset files`,
    );
  }
  if (!st.isDirectory())
    throw new UsageError(
      `${configFile}: ${where} is not a folder; expected a folder with the dataset files`,
    );
  try {
    fs.readdirSync(abs);
  } catch (e) {
    throw new UsageError(
      `${configFile}: ${where} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
}

/** A data error from the loader, named after the config field it comes from. */
function dataFieldError(e: Error, cfg: RunConfig, configFile: string): UsageError {
  const msg = e.message;
  const field = /^dataset\.[A-Za-z]+/.test(msg)
    ? ''
    : cfg.dataset.path !== undefined
      ? 'dataset.path: '
      : `dataset.name ${JSON.stringify(cfg.dataset.name)}: `;
  return new UsageError(`${configFile}: ${field}${msg}`);
}

export function buildProgram(ctx: Ctx = { io: processIO }): Command {
  const { io } = ctx;
  const program = new Command('fisher-lens')
    .description(
      'Train networks while measuring the trace of the Fisher Information Matrix (Fisher Lens).',
    )
    .version(VERSION)
    .option('--debug', 'print the stack trace of an error (also FISHER_LENS_DEBUG=1)')
    .showHelpAfterError()
    // Before the subcommands are added, so they inherit them: output goes to `io`; usage errors exit with
    // EXIT.usage, not 1.
    .configureOutput({ writeOut: (t) => io.stdout(t), writeErr: (t) => io.stderr(t) })
    .exitOverride();

  program
    .command('train')
    .description(
      'train one run described by a run config (*.fisher.json) and write its run directory',
    )
    .argument('<config>', 'run config file (JSON, at most 1 MiB)')
    .option('--runs-dir <dir>', 'runs root directory', path.join('.fisherlens', 'runs'))
    .option('--run-id <id>', 'run id (directory name); default: <timestamp>-<name>')
    .addOption(backendOption())
    .addOption(
      new Option(
        '--json',
        'stream the run events as NDJSON on stdout instead of a progress bar',
      ).conflicts('quiet'),
    )
    .option('--quiet', 'print nothing but errors (the run folder is the only output)')
    .option(
      '--reference <run-dir>',
      "a finished run of the same model and data (e.g. at the best learning rate): the explosion warning compares the early peak with its early peak as well as with this run's start (docs/DETECTOR.md)",
    )
    .addOption(pythonOption())
    .action(
      async (
        configFile: string,
        opts: {
          runsDir: string;
          runId?: string;
          backend?: BackendName;
          json?: boolean;
          quiet?: boolean;
          python?: string;
          reference?: string;
        },
      ) => {
        // Every input is checked before any work (data, backends) and before anything is written.
        if (opts.runId !== undefined) {
          const bad = runIdProblem(opts.runId);
          if (bad) throw new UsageError(`--run-id: ${bad}`);
        }
        const configDir = path.dirname(path.resolve(configFile));
        const written = loadConfigFile(configFile);
        checkDatasetPath(written, configDir, configFile);
        // The run trains on (and records) the resolved config: a relative dataset folder made absolute, one rule.
        const config = withResolvedDatasetPath(written, configDir);
        if (opts.backend) config.backend = opts.backend;
        const detectorReference = opts.reference
          ? referenceFromRunDir(opts.reference, '--reference', (m) => new UsageError(m), config)
          : null;
        const runsRoot = path.resolve(opts.runsDir);
        checkWritableDir(runsRoot, '--runs-dir');
        if (opts.runId !== undefined) checkRunIdFree(runsRoot, opts.runId);
        // An explicitly requested backend that does not load is an input error (exit 2), found before the data is
        // loaded; the choice is cached, so train() reuses it.
        await selectEngine(config.backend, { python: opts.python });
        const { train } = await import('./trainer/train');
        const reporter = createReporter({
          mode: opts.quiet ? 'quiet' : opts.json ? 'json' : 'progress',
        });
        let summary;
        try {
          summary = await train({
            config,
            runsRoot,
            runId: opts.runId,
            configName: path.basename(configFile).replace(/(\.fisher)?\.json$/i, ''),
            sinks: [reporter],
            handleSignals: true,
            python: opts.python,
            detectorReference,
          });
        } catch (e) {
          if ((e as Error)?.name === 'DataError')
            throw dataFieldError(e as Error, config, configFile);
          if (e instanceof ConfigError && !e.source) throw new ConfigError(e.problems, configFile);
          throw e;
        }
        reporter.done(summary);
        ctx.code = exitCodeForState(summary.state);
      },
    );

  program
    .command('run')
    .description(
      'run your own PyTorch training script with Fisher Lens watching: its fisher_lens_engine.Monitor streams Tr(F), loss and accuracy into a run folder (e.g. fisher-lens run -- python3 train.py)',
    )
    .argument(
      '<command...>',
      'the command to run, after --: fisher-lens run -- python3 train.py --epochs 3',
    )
    .option('--name <name>', "run name (default: the Monitor's name, else the script file name)")
    .option('--runs-dir <dir>', 'runs root directory', path.join('.fisherlens', 'runs'))
    .option('--run-id <id>', 'run id (directory name); default: <timestamp>-<name>')
    .addOption(
      new Option(
        '--json',
        "stream the run events as NDJSON on stdout (the script's own output goes to stderr)",
      ).conflicts('quiet'),
    )
    .option('--quiet', "print nothing but errors and the script's own output")
    .action(
      async (
        command: string[],
        opts: { name?: string; runsDir: string; runId?: string; json?: boolean; quiet?: boolean },
      ) => {
        if (opts.runId !== undefined) {
          const bad = runIdProblem(opts.runId);
          if (bad) throw new UsageError(`--run-id: ${bad}`);
        }
        if (opts.name !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$/.test(opts.name))
          throw new UsageError(
            '--name: expected 1–100 letters, digits, ".", "_", "+" or "-", starting with a letter or digit',
          );
        const runsRoot = path.resolve(opts.runsDir);
        checkWritableDir(runsRoot, '--runs-dir');
        if (opts.runId !== undefined) checkRunIdFree(runsRoot, opts.runId);
        const { runScript, ScriptLaunchError } = await import('./trainer/script');
        const reporter = createReporter({
          mode: opts.quiet ? 'quiet' : opts.json ? 'json' : 'progress',
        });
        let r;
        try {
          r = await runScript({
            command,
            runsRoot,
            runId: opts.runId,
            name: opts.name,
            sinks: [reporter],
            handleSignals: true,
            scriptStdout: opts.json ? 'stderr' : 'stdout',
          });
        } catch (e) {
          if (e instanceof ScriptLaunchError) throw new UsageError(e.message);
          throw e;
        }
        if (!r.summary) {
          io.stderr(`fisher-lens: ${r.error}\n`);
          ctx.code = EXIT.failed;
          return;
        }
        reporter.done(r.summary);
        ctx.code = r.endedAtOnce ? 130 : exitCodeForState(r.summary.state);
      },
    );

  program
    .command('trace')
    .description(
      'per-example squared gradient norms (and their mean, Tr(F) or the empirical version) for a saved checkpoint',
    )
    .requiredOption(
      '--checkpoint <dir>',
      'checkpoint directory (params.json + params.bin), e.g. <run>/checkpoint',
    )
    .requiredOption(
      '--data <spec>',
      'data: mnist | fashion-mnist | idx:DIR | cifar10:DIR | cifar100:DIR | synthetic, optionally @test or @train (default @train)',
    )
    .option('--count <n>', 'number of examples', positiveInt('--count', LIMITS.examples), 128)
    .addOption(
      new Option(
        '--labels <kind>',
        'given: the data labels (empirical Fisher); sampled: labels drawn from the model (true Fisher)',
      )
        .choices(['given', 'sampled'])
        .default('sampled'),
    )
    .option(
      '--seed <n>',
      'seed for the example subset and the label sampling (an integer 0 … 2^53 − 1)',
      intArg('--seed', 0, Number.MAX_SAFE_INTEGER),
      0,
    )
    .addOption(backendOption())
    .addOption(pythonOption())
    .option('--json', 'print JSON')
    .action(async (opts: TraceOptions & { json?: boolean }) => {
      const { traceCheckpoint } = await import('./trainer/trace');
      const r = await traceCheckpoint(opts);
      if (opts.json) io.stdout(JSON.stringify(r) + '\n');
      else {
        io.stdout(`backend ${r.backend}; ${r.count} examples from ${r.data}; labels ${r.labels}\n`);
        io.stdout(
          `mean ||∇θ ℓ||² = ${r.mean.toPrecision(6)} ± ${r.stderr.toPrecision(3)} (standard error)\n`,
        );
      }
    });

  program
    .command('doctor')
    .description('show which compute backends load on this machine and why the others do not')
    .option('--json', 'print JSON')
    .addOption(pythonOption())
    .addOption(new Option('--probe <backend>').choices([...AUTO_ORDER]).hideHelp())
    .action(async (opts: { json?: boolean; probe?: ConcreteBackend; python?: string }) => {
      if (opts.probe) {
        // Child mode: one backend per process, so a native crash or a global side effect cannot mask the others.
        io.stdout(JSON.stringify(await probeOne(opts.probe)) + '\n');
        return;
      }
      const results = await probeAllBackends(async (b) => {
        const r = spawnSync(
          process.execPath,
          [...process.execArgv, process.argv[1], 'doctor', '--probe', b],
          { encoding: 'utf8', timeout: 120_000 },
        );
        const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
        try {
          return JSON.parse(line) as BackendProbe;
        } catch {
          return {
            ok: false,
            detail: `probe process exited (${r.status ?? r.signal}): ${(r.stderr ?? '').trim().split('\n').pop() ?? ''}`,
          };
        }
      });
      const torch = probeTorchBackends(opts.python);
      const all = [...torch.backends, ...results];
      const byName = new Map(all.map((r) => [r.backend as string, r]));
      const chosen = ENGINE_AUTO_ORDER.map((b) => byName.get(b)).find(
        (r) => r?.ok && !('autoSkip' in r && r.autoSkip),
      );
      const info = torch.probe.info;
      if (opts.json) {
        io.stdout(
          JSON.stringify({
            node: process.version,
            python: {
              command: torch.probe.python,
              problem: torch.probe.problem,
              ...(info ?? {}),
            },
            backends: all,
            auto: chosen?.backend ?? null,
          }) + '\n',
        );
        return;
      }
      io.stdout(
        `fisher-lens ${VERSION} on Node ${process.version} (${process.platform}-${process.arch})\n`,
      );
      io.stdout(
        info
          ? `Python ${info.python} (${info.executable}): ${info.torch ? `torch ${info.torch}` : 'no torch'}${info.torch ? `; CUDA ${info.cuda.available ? `${info.cuda.version}: ${info.cuda.devices.join(', ')}` : `no (${info.cuda.reason})`}; MPS ${info.mps.available ? 'yes' : `no (${info.mps.reason})`}` : ''}\n`
          : `Python: ${torch.probe.problem}\n`,
      );
      for (const r of all) {
        io.stdout(`  ${r.ok ? '✔' : '✘'} ${r.backend.padEnd(15)} ${r.detail}\n`);
        if ('autoSkip' in r && r.autoSkip)
          io.stdout(`    ${''.padEnd(15)} not for auto: ${r.autoSkip}\n`);
      }
      io.stdout(
        chosen
          ? `auto → ${chosen.backend}\n`
          : 'no backend loads: reinstall @tensorflow/tfjs-backend-wasm\n',
      );
    });

  program
    .command('demo')
    .description(
      "a short small-LR / large-LR pair on the bundled MNIST: prints each run's peak Tr(F), its step and test accuracy",
    )
    .option('--runs-dir <dir>', 'runs root directory', path.join('.fisherlens', 'runs'))
    .addOption(backendOption())
    .option('--steps <n>', 'steps per run', positiveInt('--steps'))
    .addOption(pythonOption())
    .action(
      async (opts: { runsDir: string; backend?: BackendName; steps?: number; python?: string }) => {
        const runsRoot = path.resolve(opts.runsDir);
        checkWritableDir(runsRoot, '--runs-dir');
        const c = await selectEngine(opts.backend ?? 'auto', { python: opts.python });
        io.stdout(backendLine(c));
        const { runDemo } = await import('./trainer/demo');
        await runDemo({ runsRoot, backend: opts.backend, steps: opts.steps, python: opts.python });
      },
    );

  registerDetectCommand(program, io, (m) => new UsageError(m));

  registerSweepCommand(program, {
    node: process.execPath,
    cli: cliScript(),
    out: io.stdout,
    err: io.stderr,
    setCode: (c) => (ctx.code = c),
  });

  registerReproduceCommand(
    program,
    trainRunner,
    (f) => {
      const slurm = readSlurmOptions(f.slurm);
      if (!haveSlurm())
        throw new UsageError(
          '--launcher slurm: squeue does not run here; run the reproduction on a Slurm login node (or use --launcher local)',
        );
      return slurmRunner({ node: process.execPath, cli: cliScript(), slurm });
    },
    async (b) => {
      const c = await selectEngine(b, {});
      return c.choice.backend;
    },
  ).hook('preAction', (cmd) => {
    // The reproduce command's own folder arguments, checked before the first run starts.
    const flags = cmd.opts() as Parameters<typeof optionsFromFlags>[0];
    const o = optionsFromFlags(flags);
    if (o.dataset.path !== undefined) {
      let st: fs.Stats | undefined;
      try {
        st = fs.statSync(o.dataset.path);
      } catch {
        /* reported below */
      }
      if (!st?.isDirectory())
        throw new UsageError(
          `--dataset: ${cut(o.dataset.path)} ${st ? 'is not a folder' : 'does not exist'}; expected a folder with the dataset files`,
        );
    }
    if (!flags.dryRun) checkWritableDir(o.out, '--out');
  });

  return program;
}

/** Errors that are the user's input, not a fault of the program: exit 2 with the message alone. */
function isInputError(e: unknown): boolean {
  if (
    e instanceof ConfigError ||
    e instanceof ConfigFileError ||
    e instanceof UsageError ||
    e instanceof SweepFileError ||
    e instanceof SweepUsageError ||
    e instanceof PreflightError ||
    e instanceof InvalidArgumentError
  )
    return true;
  if (e instanceof BackendUnavailableError) return e.requested !== 'auto';
  const name = (e as Error)?.name;
  return name === 'DataError' || name === 'RunExistsError';
}

const debugWanted = (argv: string[]) =>
  argv.slice(2).includes('--debug') || /^(1|true|yes)$/i.test(process.env.FISHER_LENS_DEBUG ?? '');

/** The message for an error: `fisher-lens: …`, with the stack only in debug mode. Returns the exit code. */
function reportError(e: unknown, io: CliIO, debug: boolean): number {
  const code = (e as { code?: string })?.code;
  if (
    code === 'commander.helpDisplayed' ||
    code === 'commander.version' ||
    code === 'commander.help'
  )
    return EXIT.ok;
  if (typeof code === 'string' && code.startsWith('commander.')) return EXIT.usage; // commander has printed it
  const message = (e instanceof Error ? e.message : String(e)) || String(e);
  const stack = debug && e instanceof Error && e.stack ? `\n${e.stack}` : '';
  if (isInputError(e)) {
    io.stderr(`fisher-lens: ${message}${stack}\n`);
    return EXIT.usage;
  }
  // A write error (disk full, permissions) names its file and cause: a plain failure, not a program fault.
  const known = ['RunWriteError', 'SlurmError'].includes((e as Error)?.name);
  io.stderr(
    `fisher-lens: ${message}${stack || (known ? '' : '\n(an unexpected error: rerun with --debug to see where it happened)')}\n`,
  );
  return EXIT.failed;
}

/**
 * Run the CLI on `argv` (`[node, script, ...args]`) and return its exit code; output goes to `io`. Does not set
 * `process.exitCode` (see {@link main}), so it can run in-process many times (tests).
 */
export async function runCli(argv: string[], io: CliIO = processIO): Promise<number> {
  const ctx: Ctx = { io };
  const debug = debugWanted(argv);
  const before = process.exitCode;
  try {
    await buildProgram(ctx).parseAsync(argv);
    // A subcommand may set process.exitCode itself (reproduce, when interrupted): take it over.
    const set = process.exitCode;
    process.exitCode = before;
    return ctx.code ?? (set !== before && set !== undefined ? Number(set) : EXIT.ok);
  } catch (e) {
    process.exitCode = before;
    return reportError(e, io, debug);
  }
}

/** The `fisher-lens` process: runs {@link runCli}, sets the exit code, keeps stack traces off the terminal. */
export async function main(argv: string[] = process.argv): Promise<number> {
  const debug = debugWanted(argv);
  const fatal = (e: unknown) => {
    process.exitCode = reportError(e, processIO, debug) === EXIT.usage ? EXIT.usage : EXIT.failed;
    process.exit();
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  const code = await runCli(argv);
  process.exitCode = code;
  // Nothing more to compute: let go of the GPU device, or Dawn keeps the event loop (and the process) alive.
  releaseBackends();
  return code;
}

if (require.main === module) void main(process.argv);
