/**
 * Colour contrast (WCAG 2): run colours must read on the editor's background in every theme, including the
 * theme's own chart colours (VS Code's Light+ orange is 2.9:1 on white). Pure: the webview and tests use it.
 */

/** [r, g, b] in 0–255 from #rgb, #rrggbb or #rrggbbaa (alpha ignored); null for anything else. */
export function parseHex(color: string): [number, number, number] | null {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6}|[0-9a-f]{8})$/i.exec(color.trim());
  if (!m) return null;
  const h = m[1].length === 3 ? [...m[1]].map((c) => c + c).join('') : m[1].slice(0, 6);
  return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16)) as [number, number, number];
}

function luminance([r, g, b]: [number, number, number]): number {
  const lin = (v: number) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** WCAG contrast ratio of two colours (1–21); NaN when either is not a hex colour. */
export function contrastRatio(a: string, b: string): number {
  const x = parseHex(a);
  const y = parseHex(b);
  if (!x || !y) return NaN;
  const [hi, lo] = [luminance(x), luminance(y)].sort((p, q) => q - p);
  return (hi + 0.05) / (lo + 0.05);
}

const hex = (c: [number, number, number]) =>
  '#' + c.map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');

/**
 * `color` if it contrasts at least `min`:1 with `bg`; else the same hue mixed towards black (on a light
 * background) or white (on a dark one), in 5 % steps, until it does. Colours that are not hex pass unchanged.
 */
export function withContrast(color: string, bg: string, min = 3): string {
  const c = parseHex(color);
  const b = parseHex(bg);
  if (!c || !b || contrastRatio(color, bg) >= min) return color;
  const target = luminance(b) > 0.18 ? 0 : 255;
  for (let t = 0.05; t <= 1.0001; t += 0.05) {
    const mixed = c.map((v) => v + (target - v) * t) as [number, number, number];
    if (contrastRatio(hex(mixed), bg) >= min) return hex(mixed);
  }
  return hex(c.map(() => target) as [number, number, number]);
}
