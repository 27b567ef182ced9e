/**
 * Text from a run folder is untrusted (a cloned repository can carry a crafted run): before it reaches a
 * view it is made plain here, per the place it is shown.
 *
 * - {@link plain}: control and bidirectional-override characters removed, whitespace collapsed, length
 *   capped. Tree labels and descriptions, plain tooltips.
 * - {@link noIcons}: plain, and `$(name)` no longer renders a theme icon (escaped as `\$(`, which VS Code
 *   shows as the literal text). Status bar text and quick-pick labels, descriptions and details.
 * - {@link noLinks}: plain, and no `[text](target)` link can form: VS Code renders that pattern as a
 *   clickable link (`command:` URIs included) in notifications, so brackets are replaced by look-alikes.
 * - {@link markdownText} / {@link safeMarkdown}: every ASCII punctuation character backslash-escaped, in a
 *   MarkdownString that is not trusted (no command links), renders no HTML and no theme icons.
 */
import * as vscode from 'vscode';

// C0/C1 controls, zero-width and bidi controls (U+200B–U+200F, U+202A–U+202E, U+2060–U+2069), BOM.
const INVISIBLE =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;

/** Plain single-line text, at most `max` characters. */
export function plain(v: unknown, max = 200): string {
  let s = String(v ?? '')
    .replace(INVISIBLE, '')
    .replace(/\s+/g, ' ')
    .trim();
  if (s.length > max) s = `${s.slice(0, Math.max(0, max - 1))}…`;
  return s;
}

/** Plain text in which `$(…)` renders no theme icon. */
export function noIcons(v: unknown, max = 200): string {
  return plain(v, max).replace(/\$\(/g, '\\$(');
}

/** Plain text in which no `[text](target)` link can form (notifications linkify that pattern). */
export function noLinks(v: unknown, max = 200): string {
  return plain(v, max).replace(/\[/g, '［').replace(/\]/g, '］');
}

/** Text escaped for Markdown: every ASCII punctuation character backslash-escaped (CommonMark). */
export function markdownText(v: unknown, max = 500): string {
  return plain(v, max).replace(/[!-/:-@[-`{-~]/g, '\\$&');
}

/** An untrusted MarkdownString: no command links, no HTML, no theme icons. */
export function safeMarkdown(): vscode.MarkdownString {
  const md = new vscode.MarkdownString('', false);
  md.isTrusted = false;
  md.supportHtml = false;
  md.supportThemeIcons = false;
  return md;
}
