/**
 * Webview hygiene in one place: `localResourceRoots` limited to the built webview folder and media, a CSP of
 * `default-src 'none'` with nonce'd scripts only and stylesheets from the extension, and the HTML shell.
 */
import crypto from 'node:crypto';
import * as vscode from 'vscode';

/** Options for a panel: scripts on, only dist/webview and media readable. */
export function panelOptions(
  extensionUri: vscode.Uri,
): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    enableFindWidget: false,
    retainContextWhenHidden: false,
    localResourceRoots: [
      vscode.Uri.joinPath(extensionUri, 'dist', 'webview'),
      vscode.Uri.joinPath(extensionUri, 'media'),
    ],
  };
}

/** The views, one bundle each: `dist/webview/<view>.js` and `.css`. */
export type View = 'monitor' | 'compare' | 'runsTable';

import { esc } from './markup';

export { esc, option, smoothingControl } from './markup';

/**
 * The document of a view: `dist/webview/<view>.css` and `<view>.js` (IIFE), vscode-elements as a nonce'd
 * module script, and `body` (static markup with the stable DOM hooks; must contain no inline script/style).
 */
export function webviewHtml(
  webview: vscode.Webview,
  extensionUri: vscode.Uri,
  view: View,
  title: string,
  body: string,
): string {
  const nonce = crypto
    .randomBytes(18)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, 'x');
  const asset = (f: string) =>
    webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', f)).toString();
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data:`,
    `style-src ${webview.cspSource}`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${esc(title)}</title>
<link rel="stylesheet" href="${asset(`${view}.css`)}">
<script nonce="${nonce}" type="module" src="${asset('vscode-elements.js')}"></script>
<script nonce="${nonce}" src="${asset(`${view}.js`)}" defer></script>
</head>
<body data-view="${view}">
${body}
</body>
</html>`;
}
