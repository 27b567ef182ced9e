/**
 * HTML snippets of the views' static markup (escaping, select options, the smoothing control). Pure: no
 * `vscode`, so the markup can be rendered outside the editor too (the webview frame-time bench).
 */

/** Escape text for HTML. */
export const esc = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

/** One `<vscode-option>` of a select (`value` and `label` are our own markup, not escaped). */
export const option = (value: string, label: string, selected = false): string =>
  `<vscode-option value="${value}"${selected ? ' selected' : ''}>${label}</vscode-option>`;

/** The smoothing select of a toolbar: `off` (0, selected) and the EMA weights given. */
export const smoothingControl = (weights: readonly string[]): string =>
  `<label class="ctl">smoothing <vscode-single-select id="smoothing">${['0', ...weights].map((v, i) => option(v, v === '0' ? 'off' : v, i === 0)).join('')}</vscode-single-select></label>`;
