/**
 * Writing a run's user.json (name, notes, tags: src/shared/userMeta.ts) for the editor: only into a real run
 * folder directly inside the runs root, atomically (exclusive temporary file, rename), never through a symlink.
 * The trainer never writes this file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { checkUserMeta, USER_FILE, type UserMeta } from '../shared/userMeta';
import { readNoFollow, writeJsonAtomic } from './safeFs';

/** Read `<dir>/user.json`: null when absent; the valid fields and the problems otherwise (never throws). */
export function readUserMeta(dir: string): { meta: UserMeta | null; problems: string[] } {
  let text: string;
  try {
    text = readNoFollow(path.join(dir, USER_FILE), 64 * 1024);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { meta: null, problems: [] };
    return {
      meta: null,
      problems: [
        `${USER_FILE}: ${code === 'ELOOP' ? 'a symbolic link (not followed)' : (e as Error).message}`,
      ],
    };
  }
  try {
    return checkUserMeta(JSON.parse(text.replace(/^\uFEFF/, '')));
  } catch (e) {
    return { meta: null, problems: [`${USER_FILE}: not valid JSON (${(e as Error).message})`] };
  }
}

/**
 * Merge `patch` into `<dir>/user.json` (a field set to '' or [] is removed) and write it atomically. Fields of
 * the file this version does not know are kept. Throws with the reason (a folder that is a symlink or not inside
 * `root`, an invalid value).
 */
export function updateUserMeta(dir: string, root: string, patch: Partial<UserMeta>): UserMeta {
  if (path.dirname(path.resolve(dir)) !== path.resolve(root))
    throw new Error(`${dir} is not directly inside the runs root ${root}`);
  const st = fs.lstatSync(dir);
  if (st.isSymbolicLink() || !st.isDirectory())
    throw new Error(`${dir} is not a run folder (a symbolic link or a file)`);
  const file = path.join(dir, USER_FILE);
  let current: Record<string, unknown> = {};
  try {
    const raw = JSON.parse(readNoFollow(file, 64 * 1024)) as unknown;
    if (raw && typeof raw === 'object' && !Array.isArray(raw))
      current = raw as Record<string, unknown>;
  } catch {
    // absent or unreadable: start afresh (an unreadable file is replaced, never followed)
  }
  const next: Record<string, unknown> = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined || v === '' || (Array.isArray(v) && !v.length)) delete next[k];
    else next[k] = v;
  }
  const { meta, problems } = checkUserMeta(next);
  const bad = problems.filter((p) =>
    Object.keys(patch).some((k) => p.startsWith(`${USER_FILE}: ${k}`)),
  );
  if (bad.length) throw new Error(bad.join('; '));
  // Invalid fields the file already had are dropped rather than kept.
  for (const k of ['name', 'notes', 'tags']) if (!(k in (meta ?? {}))) delete next[k];
  writeJsonAtomic(file, next, USER_FILE);
  return meta ?? {};
}
