/** The "Fisher Lens" output channel, shared by every host module. */
import * as vscode from 'vscode';

let channel: vscode.LogOutputChannel | undefined;

/** Create the channel (once, in activate); it is disposed with the extension. */
export function createLog(): vscode.LogOutputChannel {
  channel ??= vscode.window.createOutputChannel('Fisher Lens', { log: true });
  return channel;
}

const line = (args: unknown[]) =>
  args
    .map((a) =>
      a instanceof Error ? (a.stack ?? a.message) : typeof a === 'string' ? a : JSON.stringify(a),
    )
    .join(' ');

export const log = {
  info: (...a: unknown[]) => channel?.info(line(a)),
  warn: (...a: unknown[]) => channel?.warn(line(a)),
  error: (...a: unknown[]) => channel?.error(line(a)),
  debug: (...a: unknown[]) => channel?.debug(line(a)),
  /** Lines from a trainer's stderr, verbatim. */
  append: (text: string) => channel?.append(text),
  show: () => channel?.show(true),
};
