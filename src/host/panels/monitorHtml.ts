/**
 * The monitor's static markup: toolbar (run id, state, progress, engine; x axis, smoothing, log scale, Stop),
 * the explosion banner, one box per chart of the chart table (src/shared/metrics.ts) and the config section.
 * Pure (no `vscode`): the webview frame-time bench renders the same page.
 */
import { MONITOR_CHARTS } from '../../shared/metrics';
import type { MonitorSettings } from '../../shared/webviewProtocol';
import { esc, option, smoothingControl } from './markup';

/** The monitor page's body for `runId`; `settings` (kept for this run) preset the controls. */
export function monitorBody(runId: string, settings: MonitorSettings | null = null): string {
  const chart = (id: string, title: string, cls = '') =>
    `<div class="chart${cls ? ' ' + cls : ''}" id="${id}" data-points="0"><div class="chart-head"><h3>${title}</h3><span class="chart-note"></span></div><div class="plot"></div></div>`;
  const x = settings?.xAxis ?? 'step';
  // The settings travel as JSON in an attribute (escaped); the webview validates them before use.
  const data = settings ? ` data-settings="${esc(JSON.stringify(settings))}"` : '';
  return `<header class="toolbar"${data}>
  <div class="run-title"><span class="run-id" id="run-id">${esc(runId)}</span>
    <span id="run-state" class="state" data-state="">loading</span>
    <span id="run-engine" class="engine" hidden></span>
    <span id="run-progress" class="progress muted"></span></div>
  <div class="controls">
    <label class="ctl">x <vscode-single-select id="x-axis">${option('step', 'step', x === 'step')}${option('epoch', 'epoch', x === 'epoch')}${option('time', 'time (s)', x === 'time')}</vscode-single-select></label>
    ${smoothingControl(['0.6', '0.8', '0.9', '0.95', '0.99'])}
    <vscode-checkbox id="log-scale"${settings?.logScale ? ' checked' : ''}>log Tr(F)</vscode-checkbox>
    <vscode-button id="stop-button" disabled>Stop</vscode-button>
  </div>
</header>
<div id="banner" class="banner" hidden></div>
<section class="charts" id="charts">
  ${MONITOR_CHARTS.map((c) => chart(c.dom, c.title, c.wide ? 'wide' : '')).join('\n  ')}
</section>
<section class="details">
  <vscode-collapsible title="Run config" id="config-section" open>
    <div id="config-summary" class="config-summary"></div>
  </vscode-collapsible>
</section>`;
}
