/** Engine, device and versions as every view names them (src/shared/format.ts engineLabel / engineVersions). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { engineLabel, engineVersions } from '../../src/shared/format';

test('engine label: engine, version, device and device name from the header', () => {
  const gpu = {
    name: 'torch',
    device: 'cuda:0',
    deviceName: 'NVIDIA H200',
    versions: { cuda: '12.4', python: '3.11.9', torch: '2.5.1' },
  };
  assert.equal(
    engineLabel({ engine: gpu, backend: 'torch-cuda' }),
    'torch 2.5.1 · cuda:0 (NVIDIA H200)',
  );
  assert.equal(engineVersions(gpu), 'torch 2.5.1, cuda 12.4, python 3.11.9');
  assert.equal(engineLabel({ engine: { name: 'torch', device: 'cpu' } }), 'torch · cpu');
  assert.equal(
    engineLabel({ engine: { name: 'tfjs', device: 'wasm', versions: { tfjs: '4.22.0' } } }),
    'tfjs 4.22.0 · wasm',
  );
  assert.equal(engineVersions({ name: 'torch', device: 'cpu' }), '');
  assert.equal(engineVersions(null), '');
});

test('engine label: runs without `engine` are named by their backend; nothing known is null', () => {
  assert.equal(engineLabel({ backend: 'wasm' }), 'tfjs · wasm');
  assert.equal(engineLabel({ backend: 'tensorflow-gpu' }), 'tfjs · tensorflow-gpu');
  assert.equal(engineLabel({ backend: 'torch-cpu' }), 'torch · cpu');
  assert.equal(engineLabel({ backend: 'torch-cuda' }), 'torch · cuda');
  assert.equal(engineLabel({ backend: 'torch' }), 'torch');
  assert.equal(engineLabel({ backend: 'fake' }), 'fake');
  assert.equal(engineLabel({ engine: null, backend: '' }), null);
  assert.equal(engineLabel(null), null);
  assert.equal(
    engineLabel({ engine: { name: '', device: 'cpu' }, backend: 'wasm' }),
    'tfjs · wasm',
  );
});

test('engine label: untrusted text made one plain, capped line', () => {
  const label = engineLabel({
    engine: {
      name: 'torch\u202e',
      device: 'cuda:0\n\u0000',
      deviceName: `NVIDIA\tH200 ${'x'.repeat(300)}`,
      versions: { 'torch\u202e': '2.5.1\u200b' },
    },
  })!;
  assert.ok(label.startsWith('torch 2.5.1 · cuda:0 (NVIDIA H200 xxx'), label);
  // eslint-disable-next-line no-control-regex
  assert.ok(!/[\u0000-\u001f\u200b\u202e]/.test(label));
  assert.ok(label.length <= 200, String(label.length));
  assert.ok(label.endsWith('…)'));
});
