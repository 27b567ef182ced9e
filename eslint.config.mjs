// Lint: typescript-eslint's recommended rules plus the layer boundaries of docs/ARCHITECTURE.md
// ("Layers and imports"). Formatting is Prettier's job (`npm run lint` runs both).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** Import restrictions of one layer: each entry is a group of import paths it must not use, and why. */
const layer = (files, forbidden) => ({
  files,
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: forbidden.map(([match, message]) =>
          match instanceof RegExp ? { regex: match.source, message } : { group: match, message },
        ),
      },
    ],
  },
});

const VSCODE = [['vscode'], 'only the extension host (src/host, src/extension.ts) imports vscode'];
const TFJS = [['@tensorflow/*'], 'only src/core and src/trainer load TensorFlow.js'];
const NODE = [['node:*', 'fs', 'path', 'os', 'child_process'], 'the webview runs in a browser'];
const up = (name) => [
  [`../${name}`, `../${name}/*`, `../../${name}`, `../../${name}/*`, `../../src/${name}/*`],
  `this layer may not import src/${name} (docs/ARCHITECTURE.md, "Layers and imports")`,
];
const CLI = [['**/cli', '../cli'], 'src/cli.ts is the top: nothing imports it'];

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'out/',
      '.e2e/',
      '.tmp/',
      'test-results/',
      'docs/',
      'python/',
      'media/',
      '**/*.d.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
    rules: {
      // Unused names are errors, except deliberately ignored ones (`_x`) and rest siblings.
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          ignoreRestSiblings: true,
          caughtErrors: 'none',
        },
      ],
      '@typescript-eslint/no-unused-expressions': [
        'error',
        { allowShortCircuit: true, allowTernary: true },
      ],
    },
  },
  {
    // Node scripts and the CLI shim are CommonJS / plain ESM run by Node.
    files: ['bin/**/*.js', 'scripts/**/*.mjs', 'test/**/*.js', '**/*.cjs', 'eslint.config.mjs'],
    languageOptions: { globals: globals.node },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The optional native TensorFlow packages and Dawn (`webgpu`) are loaded lazily with require(), so a missing
    // one is a reason shown by `fisher-lens doctor`, not a failed import.
    files: ['src/trainer/backend.ts', 'src/trainer/webgpu.ts', 'src/trainer/backends/**/*.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Tests load modules after installing the fake vscode API, hence require().
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  // ---- layers (src/): each may import only the layers below it --------------------------------------
  layer(
    ['src/shared/**/*.ts'],
    [
      VSCODE,
      TFJS,
      up('core'),
      up('trainer'),
      up('runs'),
      up('host'),
      up('reproduce'),
      up('sweep'),
      CLI,
    ],
  ),
  layer(
    ['src/core/**/*.ts'],
    [VSCODE, up('trainer'), up('runs'), up('host'), up('reproduce'), up('sweep'), CLI],
  ),
  layer(
    ['src/runs/**/*.ts'],
    [VSCODE, TFJS, up('core'), up('trainer'), up('host'), up('reproduce'), up('sweep'), CLI],
  ),
  layer(['src/trainer/**/*.ts'], [VSCODE, up('host'), up('reproduce'), up('sweep'), CLI]),
  layer(
    ['src/reproduce/**/*.ts'],
    [VSCODE, TFJS, up('core'), up('trainer'), up('host'), up('sweep'), CLI],
  ),
  // Sweeps: expanded from src/shared, written as run folders with src/runs; they start `fisher-lens train`
  // processes (here or as Slurm jobs) and never import the trainer.
  layer(
    ['src/sweep/**/*.ts'],
    [VSCODE, TFJS, up('core'), up('trainer'), up('host'), up('reproduce'), CLI],
  ),
  layer(
    ['src/host/**/*.ts', 'src/extension.ts'],
    [TFJS, up('core'), up('trainer'), up('reproduce'), CLI],
  ),
  layer(['src/cli.ts'], [VSCODE, up('host')]),
  layer(
    ['webview/**/*.ts'],
    [VSCODE, TFJS, NODE, [/^\.\.\/src\/(?!shared\/)/, 'the webview imports only src/shared']],
  ),
);
