/**
 * Slurm for sweeps: one job array per launch (`sbatch --array=<indices>[%N]`), each task training one run into the
 * shared runs root; squeue for what is pending; scancel for pending tasks. Every Slurm command is run with an
 * argument vector (no shell); the job script quotes every path it holds.
 */
import { spawnSync } from 'node:child_process';
import type { SlurmOptions } from '../shared/sweep';

/** A word for a POSIX shell, single-quoted (`it's` → `'it'\''s'`). */
export const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export interface JobScriptInput {
  /** Run id by array index. */
  runs: { index: number; id: string }[];
  node: string;
  cli: string;
  runsRoot: string;
  /** Folder of the per-run config files (`<id>.fisher.json`). */
  configDir: string;
  /** Folder of the per-run logs (`<id>.log`, besides Slurm's own `%A_%a.out`). */
  logDir: string;
  setup?: string[];
}

/**
 * Run by the job script when `train` exits non-zero: a run folder still `queued` (the trainer refused its input or
 * could not start) becomes `failed` with the exit code and the CLI's error line, instead of queued forever.
 * Arguments: run folder, exit code, log file. Atomic (temporary file + rename), never throws.
 */
const SETTLE_JS = [
  "const fs=require('fs'),p=require('path');const [dir,rc,log]=process.argv.slice(1);",
  "try{const f=p.join(dir,'status.json');const s=JSON.parse(fs.readFileSync(f,'utf8'));",
  "if(s.state==='queued'){let why='';try{why=fs.readFileSync(log,'utf8').split('\\n')",
  ".filter((l)=>l.startsWith('fisher-lens: ')).pop()||''}catch{}",
  "Object.assign(s,{state:'failed',pid:null,updatedAt:new Date().toISOString(),",
  "error:'the Slurm task exited with code '+rc+' before the run started'+(why?': '+why.slice(13,400):'')});",
  "const t=f+'.tmp-'+process.pid+'-0';fs.writeFileSync(t,JSON.stringify(s,null,2)+'\\n');fs.renameSync(t,f)}}catch{}",
].join('');

/** The job script every array task runs: the run of its index, trained by `fisher-lens train`. */
export function jobScript(s: JobScriptInput): string {
  const lines = [
    '#!/bin/bash',
    '# Written by `fisher-lens sweep`: array task i trains run RUNS[i] into the runs root.',
    'set -uo pipefail',
    ...(s.setup?.length ? ['# setup (from the sweep file)', 'set -e', ...s.setup, 'set +e'] : []),
    'declare -a RUNS',
    ...s.runs.map((r) => `RUNS[${r.index}]=${shq(r.id)}`),
    'run="${RUNS[$SLURM_ARRAY_TASK_ID]}"',
    `log=${shq(s.logDir + '/')}"$run".log`,
    `${shq(s.node)} ${shq(s.cli)} train ${shq(s.configDir + '/')}"$run".fisher.json \\`,
    `  --runs-dir ${shq(s.runsRoot)} --run-id "$run" --quiet >>"$log" 2>&1`,
    'rc=$?',
    `[ "$rc" -eq 0 ] || ${shq(s.node)} -e ${shq(SETTLE_JS)} ${shq(s.runsRoot + '/')}"$run" "$rc" "$log"`,
    'exit "$rc"',
    '',
  ];
  return lines.join('\n');
}

/** `0,1,5-7` with `%N` when a limit is given: the array spec of these indices. */
export function arraySpec(indices: number[], maxRunning?: number): string {
  const xs = [...new Set(indices)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < xs.length;) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j] + 1) j++;
    parts.push(j > i ? `${xs[i]}-${xs[j]}` : `${xs[i]}`);
    i = j + 1;
  }
  return parts.join(',') + (maxRunning ? `%${maxRunning}` : '');
}

/** The sbatch argument vector (no shell: paths with spaces need no quoting). */
export function sbatchArgs(o: {
  name: string;
  indices: number[];
  slurm: SlurmOptions;
  logDir: string;
  chdir: string;
  script: string;
  hold: boolean;
}): string[] {
  // `%` in a path would be read as a file-name pattern by Slurm: doubled.
  const pct = (p: string) => p.replace(/%/g, '%%');
  const s = o.slurm;
  return [
    '--parsable',
    `--job-name=fisher-lens-${o.name}`,
    `--array=${arraySpec(o.indices, s.maxRunning)}`,
    `--output=${pct(o.logDir)}/slurm-%A_%a.out`,
    `--error=${pct(o.logDir)}/slurm-%A_%a.err`,
    `--chdir=${o.chdir}`,
    '--ntasks=1',
    ...(s.partition ? [`--partition=${s.partition}`] : []),
    ...(s.gres ? [`--gres=${s.gres}`] : []),
    ...(s.time ? [`--time=${s.time}`] : []),
    ...(s.cpusPerTask ? [`--cpus-per-task=${s.cpusPerTask}`] : []),
    ...(s.mem ? [`--mem=${s.mem}`] : []),
    ...(s.extraArgs ?? []),
    ...(o.hold ? ['--hold'] : []),
    o.script,
  ];
}

/** A Slurm command that failed or is missing: the message names the command and its error output. */
export class SlurmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SlurmError';
  }
}

function slurm(cmd: string, args: string[], timeoutMs = 60_000): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new SlurmError(
      code === 'ENOENT'
        ? `${cmd} not found: run this on a Slurm login node (or use --launcher local)`
        : `${cmd}: ${r.error.message}`,
    );
  }
  if (r.status !== 0)
    throw new SlurmError(
      `${cmd} ${args.slice(0, 4).join(' ')}… failed (exit ${r.status ?? r.signal}): ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' ')}`,
    );
  return r.stdout;
}

/** Submit; returns the array job id. */
export function sbatch(args: string[]): string {
  const out = slurm('sbatch', args).trim();
  const id = out.split(';')[0].trim();
  if (!/^[0-9]+$/.test(id))
    throw new SlurmError(`sbatch printed ${JSON.stringify(out)}, not a job id`);
  return id;
}

export const releaseJob = (jobId: string): void => void slurm('scontrol', ['release', jobId]);

/** Cancel jobs or array tasks (`123`, `123_4`). */
export const scancel = (ids: string[]): void => void (ids.length && slurm('scancel', ids));

/** Whether Slurm's commands are on this machine. */
export function haveSlurm(): boolean {
  const r = spawnSync('squeue', ['--version'], { encoding: 'utf8', timeout: 20_000 });
  return !r.error && r.status === 0;
}

/**
 * Queue states of array tasks (`123_4` → `PENDING`, `RUNNING`, …) of the given array jobs; null when squeue
 * cannot be asked. Tasks not listed have left the queue.
 */
export function queueStates(jobIds: string[]): Map<string, string> | null {
  if (!jobIds.length) return new Map();
  const r = spawnSync('squeue', ['-h', '-r', '-j', jobIds.join(','), '-o', '%i|%T|%r'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.error) return null;
  // squeue exits 1 with "Invalid job id specified" once every job has left the queue (and its record expired).
  if (r.status !== 0) return /invalid job id/i.test(r.stderr) ? new Map() : null;
  const m = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const [id, state, reason] = line.trim().split('|');
    if (id && state) m.set(id, reason && reason !== 'None' ? `${state} (${reason})` : state);
  }
  return m;
}

/** The array job of a task id (`123_4` → `123`). */
export const arrayJobOf = (taskId: string): string => taskId.split('_')[0];
