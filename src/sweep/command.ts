/**
 * `fisher-lens sweep <file.sweep.json>` (launch; `--dry-run` lists the runs), `sweep status <file>`,
 * `sweep cancel <file> [--run <id>…]` and `sweep release <file>`. Registered by src/cli.ts, which passes the node
 * executable and the `fisher-lens` script that every run's `train` process is started with.
 */
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadSweep, sweepDir, type Sweep } from './expand';
import {
  cancelSweep,
  planSweep,
  releaseSweep,
  submitSlurm,
  takeForLaunch,
  type PlannedRun,
} from './launch';
import { runLocal } from './local';
import { arrayJobOf, queueStates } from './slurm';
import { stateCounts } from './state';

export interface SweepCommandDeps {
  node: string;
  cli: string;
  out: (text: string) => void;
  err: (text: string) => void;
  /** Sets the command's exit code. */
  setCode: (code: number) => void;
}

const fmt = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
const describeRun = (p: PlannedRun) =>
  [
    ...Object.entries(p.run.assignment).map(([k, v]) => `${k}=${fmt(v)}`),
    `seed=${p.run.seed}`,
  ].join(' ');

function statusLines(sweep: Sweep, plan: PlannedRun[], queue: Map<string, string> | null) {
  const lines: string[] = [];
  const w = Math.max(...plan.map((p) => p.run.id.length), 3);
  for (const p of plan) {
    const v = p.view;
    const q = v.jobId && queue ? (queue.get(v.jobId) ?? 'not in queue') : '';
    const state = v.state === 'absent' ? 'not started' : v.state;
    lines.push(
      `${p.run.id.padEnd(w)}  ${state.padEnd(11)} ${`${v.step}/${v.totalSteps}`.padEnd(13)} ${v.jobId ? `job ${v.jobId}${q ? ` (${q})` : ''}` : ''}${v.host && v.state === 'running' ? ` on ${v.host}` : ''}${v.error && v.state !== 'completed' ? `  ${v.error}` : ''}`.trimEnd(),
    );
  }
  lines.push(`sweep ${sweep.name}: ${plan.length} runs: ${stateCounts(plan.map((p) => p.view))}`);
  lines.push(`runs root: ${sweep.runsRoot}`);
  return lines;
}

export function registerSweepCommand(program: Command, deps: SweepCommandDeps): Command {
  const sweep = program
    .command('sweep')
    .description(
      'a grid of runs from a sweep file (*.sweep.json): launch it here or as a Slurm job array, see its status, cancel it',
    );
  const runsDirOption = () =>
    new Option(
      '--runs-dir <dir>',
      "runs root (default: the sweep file's runsDir, else .fisherlens/runs)",
    );

  sweep
    .command('launch', { isDefault: true })
    .description('launch the runs of a sweep file that are not finished yet (the default action)')
    .argument('<file>', 'sweep file (*.sweep.json)')
    .addOption(
      new Option('--launcher <kind>', 'where the runs train')
        .choices(['local', 'slurm'])
        .default('local'),
    )
    .addOption(runsDirOption())
    .option('--dry-run', 'list the runs and what a launch would do with each; change nothing')
    .option(
      '--max-parallel <n>',
      "runs trained at once by --launcher local (default: the file's maxParallel, else 1)",
      (v) => {
        const n = Number(v);
        if (!/^[0-9]+$/.test(v) || n < 1 || n > 64)
          throw new InvalidArgumentError(
            `--max-parallel must be an integer from 1 to 64 (got ${JSON.stringify(v)})`,
          );
        return n;
      },
    )
    .option(
      '--hold',
      'Slurm: submit the job array held (start it with `fisher-lens sweep release`)',
    )
    .action(
      async (
        file: string,
        o: {
          launcher: 'local' | 'slurm';
          runsDir?: string;
          dryRun?: boolean;
          maxParallel?: number;
          hold?: boolean;
        },
      ) => {
        const s = loadSweep(file, { runsDir: o.runsDir });
        const plan = planSweep(s);
        if (o.dryRun) {
          const w = Math.max(...plan.map((p) => p.run.id.length));
          for (const p of plan) {
            const d = p.decision;
            const what =
              d.action === 'skip'
                ? d.why === 'done'
                  ? `skip (${p.view.state})`
                  : `skip (${p.view.state}, live)`
                : d.action === 'run'
                  ? 'run'
                  : `rerun: ${d.why}`;
            deps.out(`${p.run.id.padEnd(w)}  ${describeRun(p)}  ${p.run.steps} steps  ${what}\n`);
          }
          const n = plan.filter((p) => p.decision.action !== 'skip').length;
          deps.out(
            `sweep ${s.name}: ${plan.length} runs, ${n} to launch (${o.launcher}); runs root ${s.runsRoot}\n`,
          );
          return;
        }
        const todo = takeForLaunch(s, plan, (l) => deps.err(`${l}\n`));
        const skipped = plan.length - todo.length;
        if (!todo.length) {
          deps.out(
            `sweep ${s.name}: all ${plan.length} runs are finished or live; nothing to launch\n`,
          );
          return;
        }
        if (o.launcher === 'slurm') {
          const jobId = submitSlurm(s, todo, { node: deps.node, cli: deps.cli, hold: o.hold });
          deps.out(
            `sweep ${s.name}: submitted ${todo.length} run(s) as Slurm job array ${jobId}${o.hold ? ' (held: `fisher-lens sweep release` starts it)' : ''}${skipped ? `; ${skipped} skipped` : ''}\n` +
              `runs root: ${s.runsRoot}\nlogs: ${path.join(sweepDir(s.runsRoot, s.name), 'logs')}\n`,
          );
          return;
        }
        const ac = new AbortController();
        let signals = 0;
        const onSignal = () => {
          if (++signals > 1) process.exit(130);
          deps.err('\nstopping the sweep: running runs stop after their current step…\n');
          ac.abort();
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        try {
          const maxParallel = o.maxParallel ?? s.spec.maxParallel ?? 1;
          deps.err(
            `sweep ${s.name}: ${todo.length} run(s) to train here, ${maxParallel} at a time${skipped ? `; ${skipped} skipped` : ''}\n`,
          );
          const r = await runLocal(s, todo, {
            node: deps.node,
            cli: deps.cli,
            maxParallel,
            signal: ac.signal,
            onStart: (run) => deps.err(`${run.id}: started\n`),
            onDone: (run, state) => deps.err(`${run.id}: ${state}\n`),
          });
          const states = [...r.states.values()];
          const bad = states.filter((x) => x !== 'completed' && x !== 'diverged').length;
          deps.out(
            `sweep ${s.name}: ${states.filter((x) => x === 'completed').length} completed, ${bad} not${skipped ? `, ${skipped} skipped` : ''}; runs root ${s.runsRoot}\n`,
          );
          if (r.interrupted) deps.setCode(130);
          else if (bad) deps.setCode(1);
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      },
    );

  sweep
    .command('status')
    .description("each run's state (run folders, and squeue for Slurm jobs) and the totals")
    .argument('<file>', 'sweep file (*.sweep.json)')
    .addOption(runsDirOption())
    .option('--json', 'print JSON')
    .action((file: string, o: { runsDir?: string; json?: boolean }) => {
      const s = loadSweep(file, { runsDir: o.runsDir });
      const plan = planSweep(s);
      const jobs = [
        ...new Set(plan.flatMap((p) => (p.view.jobId ? [arrayJobOf(p.view.jobId)] : []))),
      ];
      const queue = jobs.length ? queueStates(jobs) : null;
      if (o.json) {
        deps.out(
          JSON.stringify({
            name: s.name,
            runsRoot: s.runsRoot,
            runs: plan.map((p) => ({
              ...p.view,
              assignment: p.run.assignment,
              seed: p.run.seed,
              queue: p.view.jobId && queue ? (queue.get(p.view.jobId) ?? null) : null,
            })),
          }) + '\n',
        );
        return;
      }
      deps.out(statusLines(s, plan, queue).join('\n') + '\n');
    });

  sweep
    .command('cancel')
    .description(
      'stop the runs of a sweep: pending Slurm tasks are cancelled (scancel), running runs get the STOP file',
    )
    .argument('<file>', 'sweep file (*.sweep.json)')
    .addOption(runsDirOption())
    .option('--run <id...>', 'only these runs')
    .action((file: string, o: { runsDir?: string; run?: string[] }) => {
      const s = loadSweep(file, { runsDir: o.runsDir });
      const r = cancelSweep(s, o.run);
      deps.out(
        `sweep ${s.name}: ${r.cancelled.length} queued run(s) cancelled${r.cancelled.length ? ` (${r.cancelled.join(', ')})` : ''}, ${r.stopRequested.length} asked to stop${r.stopRequested.length ? ` (${r.stopRequested.join(', ')})` : ''}\n`,
      );
    });

  sweep
    .command('release')
    .description('start a job array submitted with --hold')
    .argument('<file>', 'sweep file (*.sweep.json)')
    .addOption(runsDirOption())
    .action((file: string, o: { runsDir?: string }) => {
      const s = loadSweep(file, { runsDir: o.runsDir });
      const jobs = releaseSweep(s);
      deps.out(`sweep ${s.name}: released ${jobs.length ? jobs.join(', ') : 'nothing'}\n`);
    });
  return sweep;
}
