/**
 * Run management in the Runs view: rename a run, its notes and tags (kept in the run's user.json, which the
 * trainer never writes: src/runs/userMeta.ts), and filtering the view by text or `#tag`. Tests and scripts pass
 * the new value as the second argument (a string) to skip the input box.
 */
import * as vscode from 'vscode';
import { updateUserMeta } from '../../runs/userMeta';
import { parseTags, USER_LIMITS, type UserMeta } from '../../shared/userMeta';
import { noLinks } from '../sanitize';
import { idOf, pickRun, type CommandHost, type RunArg } from './common';

async function editMeta(
  h: CommandHost,
  arg: RunArg,
  given: unknown,
  what: string,
  ask: (current: UserMeta, runId: string) => Thenable<string | undefined>,
  toPatch: (text: string) => Partial<UserMeta> | string,
): Promise<UserMeta | undefined> {
  const runId = idOf(arg) ?? (await pickRun(h, () => true, `${what}: which run?`, 'No runs yet.'));
  const r = runId ? h.store.get(runId) : undefined;
  if (!r) return undefined;
  const text = typeof given === 'string' ? given : await ask(r.user ?? {}, r.runId);
  if (text === undefined) return undefined;
  const patch = toPatch(text);
  if (typeof patch === 'string') {
    void vscode.window.showErrorMessage(`Fisher Lens: ${patch}`);
    return undefined;
  }
  try {
    const meta = updateUserMeta(r.dir, h.store.root, patch);
    h.store.refresh();
    return meta;
  } catch (e) {
    void vscode.window.showErrorMessage(
      `Fisher Lens: ${what} of ${r.runId} not saved: ${noLinks((e as Error).message, 400)}`,
    );
    return undefined;
  }
}

export const renameRun = (h: CommandHost, arg?: RunArg, given?: unknown) =>
  editMeta(
    h,
    arg,
    given,
    'Rename',
    (cur, runId) =>
      vscode.window.showInputBox({
        title: `Rename ${runId}`,
        prompt: 'A display name (the folder keeps its run id). Empty: show the run id again.',
        value: cur.name ?? '',
        validateInput: (v) =>
          v.length > USER_LIMITS.name
            ? `at most ${USER_LIMITS.name} characters`
            : [...v].some((c) => c < ' ' || c === '\u007f' || '<>`[]'.includes(c))
              ? 'no control characters, < > ` [ or ]'
              : null,
      }),
    (text) => ({ name: text.trim() }),
  );

export const editRunNotes = (h: CommandHost, arg?: RunArg, given?: unknown) =>
  editMeta(
    h,
    arg,
    given,
    'Notes',
    (cur, runId) =>
      vscode.window.showInputBox({
        title: `Notes for ${runId}`,
        prompt: 'Plain text, kept in the run folder (user.json). Empty: no notes.',
        value: cur.notes ?? '',
        validateInput: (v) =>
          v.length > USER_LIMITS.notes ? `at most ${USER_LIMITS.notes} characters` : null,
      }),
    (text) => ({ notes: text.trim() }),
  );

export const editRunTags = (h: CommandHost, arg?: RunArg, given?: unknown) =>
  editMeta(
    h,
    arg,
    given,
    'Tags',
    (cur, runId) =>
      vscode.window.showInputBox({
        title: `Tags of ${runId}`,
        prompt: 'Words separated by spaces or commas (letters, digits, . _ + - /). Empty: no tags.',
        value: (cur.tags ?? []).join(' '),
        validateInput: (v) => {
          const { bad, tags } = parseTags(v);
          if (bad.length) return `not a tag: ${bad.slice(0, 3).join(', ')}`;
          return tags.length >= USER_LIMITS.tags &&
            v.split(/[\s,]+/).filter(Boolean).length > USER_LIMITS.tags
            ? `at most ${USER_LIMITS.tags} tags`
            : null;
        },
      }),
    (text) => {
      const { tags, bad } = parseTags(text);
      return bad.length ? `not a tag: ${bad.slice(0, 3).join(', ')}` : { tags };
    },
  );

/** Filter the Runs view: words must all occur in a run's id, name, state, notes or tags; `#tag` matches a tag. */
export async function filterRuns(h: CommandHost, given?: unknown): Promise<string | undefined> {
  const text =
    typeof given === 'string'
      ? given
      : await vscode.window.showInputBox({
          title: 'Filter runs',
          prompt:
            'Words in the run id, name, state or notes; #tag for a tag. Empty: show all runs.',
          value: h.runFilter.get(),
        });
  if (text === undefined) return undefined;
  h.runFilter.set(text.trim());
  return text.trim();
}

export const clearRunFilter = (h: CommandHost) => h.runFilter.set('');
