/**
 * What the user says about a run — a display name, notes and tags — kept in `<run>/user.json`, a file of the
 * run folder that the trainer never writes (it only tolerates it in a queued placeholder it adopts). Written by
 * the editor (atomically, never through a symlink: src/runs/userMeta.ts); read like every run file: untrusted,
 * checked against {@link UserMetaSchema}, each bad field named and dropped.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { schemaProblems } from './protocol';

export const USER_FILE = 'user.json';

export const USER_LIMITS = { name: 80, notes: 10_000, tags: 20, tag: 40 } as const;

/** A tag: a short ASCII word (letters, digits, `. _ - + /`), no spaces or markup. */
export const TAG_PATTERN = '^[A-Za-z0-9._+/-]{1,40}$';
const TAG_RE = new RegExp(TAG_PATTERN);

export const UserMetaSchema = Type.Object(
  {
    name: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: USER_LIMITS.name,
        // No control characters or markup: shown in trees, tooltips and chart legends.
        pattern: '^[^\\u0000-\\u001f\\u007f<>`\\[\\]]+$',
        description: 'Display name of the run (the run id stays its folder name).',
      }),
    ),
    notes: Type.Optional(
      Type.String({ maxLength: USER_LIMITS.notes, description: 'Free-text notes (plain text).' }),
    ),
    tags: Type.Optional(
      Type.Array(Type.String({ pattern: TAG_PATTERN }), {
        maxItems: USER_LIMITS.tags,
        uniqueItems: true,
        description: 'Tags for filtering.',
      }),
    ),
  },
  { additionalProperties: true, description: 'User metadata of a run (user.json).' },
);
export type UserMeta = Static<typeof UserMetaSchema>;

/** user.json as data: each valid field kept, each invalid one named (prefixed with the file name) and dropped. */
export function checkUserMeta(raw: unknown): { meta: UserMeta | null; problems: string[] } {
  if (raw === null || raw === undefined) return { meta: null, problems: [] };
  if (typeof raw !== 'object' || Array.isArray(raw))
    return { meta: null, problems: [`${USER_FILE}: expected an object`] };
  const o = raw as Record<string, unknown>;
  const meta: UserMeta = {};
  const problems: string[] = [];
  for (const k of ['name', 'notes', 'tags'] as const) {
    if (o[k] === undefined) continue;
    const sub = UserMetaSchema.properties[k];
    if (Value.Check(sub, o[k])) (meta as Record<string, unknown>)[k] = o[k];
    else problems.push(...schemaProblems(sub, o[k], k).map((p) => `${USER_FILE}: ${p}`));
  }
  return { meta, problems };
}

/** Tags typed by the user (`a, b c`): split on commas and spaces, a leading `#` dropped, duplicates removed. */
export function parseTags(text: string): { tags: string[]; bad: string[] } {
  const words = text
    .split(/[\s,]+/)
    .map((w) => w.replace(/^#/, ''))
    .filter(Boolean);
  const tags = [...new Set(words.filter((w) => TAG_RE.test(w)))];
  return { tags: tags.slice(0, USER_LIMITS.tags), bad: words.filter((w) => !TAG_RE.test(w)) };
}

/** A run's display name: the user's name, else the config's name, else the run id. */
export function displayName(
  runId: string,
  meta: UserMeta | null | undefined,
  configName?: unknown,
): string {
  if (meta?.name) return meta.name;
  return typeof configName === 'string' && configName ? configName : runId;
}

/**
 * Whether a run matches a filter text: every word must occur (case-insensitive) in its id, name, state or notes,
 * or equal one of its tags (`#tag` or `tag:x` match tags only).
 */
export function matchesFilter(
  filter: string,
  run: { runId: string; name: string; state: string; meta?: UserMeta | null },
): boolean {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const tags = (run.meta?.tags ?? []).map((t) => t.toLowerCase());
  const hay = [run.runId, run.name, run.state, run.meta?.notes ?? '', ...tags]
    .join('\n')
    .toLowerCase();
  return words.every((w) => {
    const tag = /^(?:#|tag:)(.+)$/.exec(w)?.[1];
    return tag !== undefined ? tags.includes(tag) : hay.includes(w);
  });
}
