#!/usr/bin/env node
// The `fisher-lens` command: runs the bundled trainer CLI (built into dist/ by `npm run build`, which `npm ci` runs).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const cli = path.join(__dirname, '..', 'dist', 'cli.js');
if (!fs.existsSync(cli)) {
  process.stderr.write(
    'fisher-lens: dist/cli.js is missing; run `npm run build` (or `npm ci`) in the Fisher Lens folder first\n',
  );
  process.exit(1);
}
require(cli).main(process.argv);
