/** The Fisher Lens version, from the package.json next to the bundle (dist/..) or the source tree (src/trainer/../..). */
import fs from 'node:fs';
import path from 'node:path';

export const VERSION: string = (() => {
  for (const p of [
    path.join(__dirname, '..', 'package.json'),
    path.join(__dirname, '..', '..', 'package.json'),
  ]) {
    try {
      const j = JSON.parse(fs.readFileSync(p, 'utf8'));
      if (j.name === 'fisher-lens') return j.version as string;
    } catch {
      /* next */
    }
  }
  return '0.0.0';
})();
