/** Theme colours from VS Code's CSS variables (they change with the theme: re-read on change). */
import { withContrast } from '../src/shared/contrast';

const css = (name: string, fallback: string): string =>
  getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;

export interface Theme {
  fg: string;
  muted: string;
  grid: string;
  bg: string;
  font: string;
  /** Distinct line colours, in order. */
  palette: string[];
  blue: string;
  red: string;
  green: string;
  yellow: string;
  orange: string;
  purple: string;
}

/** Run colours on a light background, in order (readTheme's light themes and lightTheme share them). */
function lightRunColours(
  c: Pick<Theme, 'blue' | 'orange' | 'green' | 'red' | 'purple' | 'yellow'>,
): string[] {
  return [
    ...[c.blue, c.orange, c.green, c.red, c.purple],
    ...['#00838f', '#c2185b', '#616161', '#827717', '#1f3a93', '#af00db'],
    c.yellow,
  ];
}

/** VS Code's light and high-contrast light themes (the webview body's class says which kind is on). */
const isLightTheme = () =>
  document.body.classList.contains('vscode-light') ||
  document.body.classList.contains('vscode-high-contrast-light');

export function readTheme(): Theme {
  const blue = css('--vscode-charts-blue', '#3794ff');
  const red = css('--vscode-charts-red', '#f14c4c');
  const green = css('--vscode-charts-green', '#89d185');
  const yellow = css('--vscode-charts-yellow', '#cca700');
  const orange = css('--vscode-charts-orange', '#d18616');
  const purple = css('--vscode-charts-purple', '#b180d7');
  const family = css('--vscode-font-family', 'sans-serif');
  const bg = css('--vscode-editor-background', '#1e1e1e');
  return {
    fg: css('--vscode-foreground', '#cccccc'),
    muted: css('--vscode-descriptionForeground', '#999999'),
    grid: css('--vscode-editorWidget-border', css('--vscode-panel-border', '#80808040')),
    bg,
    font: `11px ${family}`,
    // Run colours: the theme's chart colours, then shades that read on the theme's background (pastels only on
    // dark) — each darkened or lightened where needed to contrast ≥ 3:1 with the editor background (WCAG
    // graphics), which some themes' own chart colours miss (Light+ orange: 2.9:1 on white). On light themes the
    // yellow, darkened to read on white, is a gold close to the orange: it moves to the back, behind distinct hues
    // (cyan, raspberry, grey, olive, navy, magenta); no brown, no second green or red.
    palette: (isLightTheme()
      ? lightRunColours({ blue, orange, green, red, purple, yellow })
      : [
          ...[blue, orange, green, red, purple, yellow],
          ...['#4ec9b0', '#ce9178', '#9cdcfe', '#c586c0', '#dcdcaa', '#6a9955'],
        ]
    ).map((c) => withContrast(c, bg)),
    blue,
    red,
    green,
    yellow,
    orange,
    purple,
  };
}

/** `color` with an alpha (hex #rgb/#rrggbb or anything else returned unchanged). */
export function withAlpha(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})([0-9a-f]{2})?$/i.exec(color.trim());
  if (!m) return color;
  let hex = m[1];
  if (hex.length === 3)
    hex = hex
      .split('')
      .map((c) => c + c)
      .join('');
  const a = Math.round(Math.max(0, Math.min(1, alpha)) * 255)
    .toString(16)
    .padStart(2, '0');
  return `#${hex}${a}`;
}

/** Call `fn` when VS Code switches theme (the body's class changes). */
export function onThemeChange(fn: () => void): void {
  new MutationObserver(() => fn()).observe(document.body, {
    attributes: true,
    attributeFilter: ['class', 'data-vscode-theme-kind'],
  });
}

/**
 * A neutral light theme (VS Code's Light+ chart colours on white), whatever the editor's theme: what exported
 * images are drawn in, so they read the same in a paper or on a slide.
 */
export function lightTheme(family = css('--vscode-font-family', 'sans-serif')): Theme {
  const c = {
    blue: '#1a85ff',
    red: '#e51400',
    green: '#388a34',
    yellow: '#bf8803',
    orange: '#d18616',
    purple: '#652d90',
  };
  return {
    fg: '#1f1f1f',
    muted: '#595959',
    grid: '#d0d0d0',
    bg: '#ffffff',
    font: `11px ${family}`,
    // The light-theme run colours of readTheme (same order: the same run, the same colour).
    palette: lightRunColours(c).map((x) => withContrast(x, '#ffffff')),
    ...c,
  };
}
