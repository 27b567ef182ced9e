/**
 * `fisher-lens` command line: train, trace, doctor, demo, reproduce. A thin entry over the trainer modules.
 * Exit codes: 0 completed/stopped, 1 failed, 2 invalid input (config, arguments), 3 diverged.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { BACKENDS, ConfigError, parseConfig, type BackendName } from '../shared/config';
import { AUTO_ORDER, probeAllBackends, probeOne, type ConcreteBackend } from './backend';
import { createReporter } from './progress';
import { VERSION } from './version';
import { registerReproduceCommand } from '../reproduce/command';

export const EXIT = { ok: 0, failed: 1, usage: 2, diverged: 3 } as const;


const backendOption = () =>
  new Option('--backend <name>', 'compute backend (overrides the config)').choices([...BACKENDS]);

const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer (got "${v}")`);
  return n;
};

class UsageError extends Error {}

function readConfigFile(file: string) {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`${file}: cannot read the config file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseConfig(text, file);
}

export function buildProgram(): Command {
  const program = new Command('fisher-lens')
    .description('Train networks while measuring the trace of the Fisher Information Matrix (Fisher Lens).')
    .version(VERSION)
    .showHelpAfterError()
    // Before the subcommands are added, so they inherit it: usage errors exit with EXIT.usage, not 1.
    .exitOverride();

  program
    .command('train')
    .description('train one run described by a run config (*.fisher.json) and write its run directory')
    .argument('<config>', 'run config file (JSON)')
    .option('--runs-dir <dir>', 'runs root directory', path.join('.fisherlens', 'runs'))
    .option('--run-id <id>', 'run id (directory name); default: <timestamp>-<name>')
    .addOption(backendOption())
    .option('--json', 'stream the run events as NDJSON on stdout instead of a progress bar')
    .action(async (configFile: string, opts: { runsDir: string; runId?: string; backend?: BackendName; json?: boolean }) => {
      const config = readConfigFile(configFile);
      if (opts.backend) config.backend = opts.backend;
      const { train } = await import('./train');
      const reporter = createReporter({ json: !!opts.json });
      const summary = await train({
        config,
        runsRoot: path.resolve(opts.runsDir),
        runId: opts.runId,
        configDir: path.dirname(path.resolve(configFile)),
        configName: path.basename(configFile).replace(/(\.fisher)?\.json$/i, ''),
        onEvent: reporter.onEvent,
        handleSignals: true,
      });
      reporter.done(summary);
      process.exitCode = summary.state === 'failed' ? EXIT.failed : summary.state === 'diverged' ? EXIT.diverged : EXIT.ok;
    });

  program
    .command('trace')
    .description('per-example squared gradient norms (and their mean, Tr(F) or the empirical version) for a saved checkpoint')
    .requiredOption('--checkpoint <dir>', 'checkpoint directory (params.json + params.bin), e.g. <run>/checkpoint')
    .requiredOption('--data <spec>', 'data: mnist | fashion-mnist | idx:DIR | cifar10:DIR | cifar100:DIR | synthetic, optionally @test or @train (default @train)')
    .option('--count <n>', 'number of examples', positiveInt('--count'), 128)
    .addOption(new Option('--labels <kind>', 'given: the data labels (empirical Fisher); sampled: labels drawn from the model (true Fisher)').choices(['given', 'sampled']).default('sampled'))
    .option('--seed <n>', 'seed for the example subset and the label sampling', (v) => Number(v), 0)
    .addOption(backendOption())
    .option('--json', 'print JSON')
    .action(async (opts: { checkpoint: string; data: string; count: number; labels: 'given' | 'sampled'; seed: number; backend?: BackendName; json?: boolean }) => {
      const { traceCheckpoint } = await import('./trace');
      const r = await traceCheckpoint(opts);
      if (opts.json) process.stdout.write(JSON.stringify(r) + '\n');
      else {
        console.log(`backend ${r.backend}; ${r.count} examples from ${r.data}; labels ${r.labels}`);
        console.log(`mean ||∇θ ℓ||² = ${r.mean.toPrecision(6)} ± ${r.stderr.toPrecision(3)} (standard error)`);
      }
    });

  program
    .command('doctor')
    .description('show which compute backends load on this machine and why the others do not')
    .option('--json', 'print JSON')
    .addOption(new Option('--probe <backend>').choices([...AUTO_ORDER]).hideHelp())
    .action(async (opts: { json?: boolean; probe?: ConcreteBackend }) => {
      if (opts.probe) {
        // Child mode: one backend per process, so a native crash or a global side effect cannot mask the others.
        process.stdout.write(JSON.stringify(await probeOne(opts.probe)) + '\n');
        return;
      }
      const results = await probeAllBackends(async (b) => {
        const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1], 'doctor', '--probe', b], { encoding: 'utf8', timeout: 120_000 });
        const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
        try {
          return JSON.parse(line) as { ok: boolean; detail: string };
        } catch {
          return { ok: false, detail: `probe process exited (${r.status ?? r.signal}): ${(r.stderr ?? '').trim().split('\n').pop() ?? ''}` };
        }
      });
      if (opts.json) {
        process.stdout.write(JSON.stringify({ node: process.version, backends: results }) + '\n');
        return;
      }
      console.log(`fisher-lens ${VERSION} on Node ${process.version} (${process.platform}-${process.arch})`);
      const chosen = results.find((r) => r.ok);
      for (const r of results) console.log(`  ${r.ok ? '✔' : '✘'} ${r.backend.padEnd(15)} ${r.detail}`);
      console.log(chosen ? `auto → ${chosen.backend}` : 'no backend loads: reinstall @tensorflow/tfjs-backend-wasm');
    });

  program
    .command('demo')
    .description('a short small-LR / large-LR pair on the bundled MNIST: prints each run\'s peak Tr(F), its step and test accuracy')
    .option('--runs-dir <dir>', 'runs root directory', path.join('.fisherlens', 'runs'))
    .addOption(backendOption())
    .option('--steps <n>', 'steps per run', positiveInt('--steps'))
    .action(async (opts: { runsDir: string; backend?: BackendName; steps?: number }) => {
      const { runDemo } = await import('./demo');
      await runDemo({ runsRoot: path.resolve(opts.runsDir), backend: opts.backend, steps: opts.steps });
    });

  registerReproduceCommand(program);

  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') {
      process.exitCode = 0;
    } else if (code?.startsWith('commander.')) {
      process.exitCode = EXIT.usage;
    } else if (e instanceof ConfigError || e instanceof UsageError || (e as Error).name === 'DataError') {
      process.stderr.write(`fisher-lens: ${(e as Error).message}\n`);
      process.exitCode = EXIT.usage;
    } else {
      process.stderr.write(`fisher-lens: ${(e as Error).stack ?? e}\n`);
      process.exitCode = EXIT.failed;
    }
  }
}

if (require.main === module) void main(process.argv);
