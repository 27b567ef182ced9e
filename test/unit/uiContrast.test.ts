import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contrastRatio, parseHex, withContrast } from '../../src/shared/contrast';

test('contrast ratio: the WCAG closed forms (black/white 21, equal colours 1) and a known pair', () => {
  assert.equal(contrastRatio('#000000', '#ffffff'), 21);
  assert.equal(contrastRatio('#fff', '#000'), 21);
  assert.equal(contrastRatio('#777777', '#777777'), 1);
  // #767676 on white is the classic 4.54:1 grey
  assert.ok(Math.abs(contrastRatio('#767676', '#ffffff') - 4.54) < 0.01);
  assert.ok(Number.isNaN(contrastRatio('rgb(1,2,3)', '#fff')));
  assert.deepEqual(parseHex('#d1861680'), [0xd1, 0x86, 0x16]);
});

test('withContrast keeps colours that read, and darkens (light bg) or lightens (dark bg) the others to ≥ 3:1', () => {
  assert.equal(withContrast('#a31515', '#ffffff'), '#a31515');
  const orange = withContrast('#d18616', '#ffffff'); // VS Code Light+ chart orange: 2.94:1 on white
  assert.notEqual(orange, '#d18616');
  assert.ok(contrastRatio(orange, '#ffffff') >= 3);
  assert.ok(contrastRatio(orange, '#ffffff') < 3.6, 'only as dark as needed');
  const onDark = withContrast('#1a1a80', '#1e1e1e');
  assert.ok(contrastRatio(onDark, '#1e1e1e') >= 3);
  for (const c of ['#89d185', '#cca700', '#ffff00', '#eeeeee'])
    assert.ok(contrastRatio(withContrast(c, '#ffffff'), '#ffffff') >= 3, c);
  assert.equal(withContrast('var(--x)', '#ffffff'), 'var(--x)');
});
