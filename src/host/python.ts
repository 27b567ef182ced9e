/**
 * The Python interpreter the trainer's PyTorch engine runs (`fisher-lens train --python <exe>`), found in this
 * order: the `fisherLens.pythonPath` setting; else the interpreter selected in the Python extension
 * (ms-python.python), through its public API (`@vscode/python-extension`), when that extension is installed;
 * else `python3` on the PATH (`python` on Windows). Only asked when a run is launched, which never happens in
 * an untrusted workspace (the setting is restricted there too, see package.json `restrictedConfigurations`).
 */
import { PythonExtension } from '@vscode/python-extension';
import * as vscode from 'vscode';
import { log } from './log';

/** The Python extension's id (its API is what `PythonExtension.api()` returns). */
export const PYTHON_EXTENSION_ID = 'ms-python.python';

/** How long the Python extension may take to activate and resolve its interpreter before `python3` is used. */
export const PYTHON_API_TIMEOUT_MS = 10_000;

/** Where the interpreter came from. */
export type PythonSource = 'setting' | 'python-extension' | 'path';

export interface PythonChoice {
  /** Executable to pass as `--python` (a path, or a name the PATH resolves). */
  exe: string;
  source: PythonSource;
}

/** The interpreter on the PATH used when nothing else names one. */
export const defaultPython = (): string => (process.platform === 'win32' ? 'python' : 'python3');

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * The interpreter the Python extension has selected for `resource` (its workspace folder), resolved to an
 * executable; undefined when the extension is not installed, has none selected, or does not answer in time.
 */
export async function pythonFromExtension(
  resource?: vscode.Uri,
  timeoutMs = PYTHON_API_TIMEOUT_MS,
): Promise<string | undefined> {
  if (!vscode.extensions.getExtension(PYTHON_EXTENSION_ID)) return undefined;
  try {
    const api = await withTimeout(PythonExtension.api(), timeoutMs, 'Python extension');
    const envPath = api.environments.getActiveEnvironmentPath(resource);
    const env = await withTimeout(
      api.environments.resolveEnvironment(envPath),
      timeoutMs,
      'Python extension: resolving the selected interpreter',
    );
    const exe = env?.executable.uri?.fsPath;
    if (exe) return exe;
    log.info(
      `Python extension: the selected environment ${envPath?.path ?? '(none)'} has no Python executable`,
    );
  } catch (e) {
    log.warn(`Python extension: no interpreter from its API (${(e as Error).message})`);
  }
  return undefined;
}

/** Resolve the interpreter: the setting, else the Python extension's, else {@link defaultPython}. */
export async function resolvePython(
  settingPath: string,
  resource?: vscode.Uri,
  timeoutMs = PYTHON_API_TIMEOUT_MS,
): Promise<PythonChoice> {
  if (settingPath) return { exe: settingPath, source: 'setting' };
  const fromExt = await pythonFromExtension(resource, timeoutMs);
  if (fromExt) return { exe: fromExt, source: 'python-extension' };
  return { exe: defaultPython(), source: 'path' };
}
