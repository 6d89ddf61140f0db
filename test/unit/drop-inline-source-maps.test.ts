// operator/runtime/drop-inline-source-maps.ts: dependencies' inline source maps are cut from their source as
// they load (strings and byte buffers), modules without one and our own modules pass through unchanged.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, registerHooks } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  dropInlineSourceMaps,
  withoutInlineSourceMap,
} from '../../operator/runtime/drop-inline-source-maps.ts';

const map = '//# sourceMappingURL=data:application/json;base64,eyJ2ZXJzaW9uIjozfQ==';
const code = '"use strict";\nexports.answer = 42;\n';

describe('withoutInlineSourceMap', () => {
  it('cuts a trailing inline map from a string, as bytes (a sliced string would keep the original alive)', () => {
    const out = withoutInlineSourceMap(`${code}${map}\n`);
    assert.ok(out instanceof Uint8Array);
    assert.equal(Buffer.from(out).toString(), code);
  });

  it('cuts it from bytes without decoding the rest', () => {
    const out = withoutInlineSourceMap(Buffer.from(`${code}${map}`));
    assert.ok(out instanceof Uint8Array);
    assert.equal(Buffer.from(out).toString(), code);
  });

  it('returns the same object when there is no inline map', () => {
    const bytes = Buffer.from(code);
    assert.equal(withoutInlineSourceMap(bytes), bytes);
    const fileMap = `${code}//# sourceMappingURL=index.js.map\n`;
    assert.equal(withoutInlineSourceMap(fileMap), fileMap);
    assert.equal(withoutInlineSourceMap(undefined), undefined);
  });
});

describe('dropInlineSourceMaps', () => {
  let dir: string;
  const seen = new Map<string, string>();

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-source-maps-'));
    for (const where of ['node_modules/dep', 'own']) {
      mkdirSync(path.join(dir, where), { recursive: true });
      writeFileSync(path.join(dir, where, 'index.js'), `${code}${map}\n`);
    }
    dropInlineSourceMaps();
    // Registered later, so it runs first and sees what the dropping hook returns.
    registerHooks({
      load(url, context, nextLoad) {
        const loaded = nextLoad(url, context);
        if (url.startsWith('file:') && url.includes(dir))
          seen.set(url, Buffer.from(loaded.source as Uint8Array).toString());
        return loaded;
      },
    });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('drops the map of a dependency loaded by require or import, and the module still works', async () => {
    const required = createRequire(path.join(dir, 'x.js'))('dep') as { answer: number };
    assert.equal(required.answer, 42);
    const dep = [...seen].find(([url]) => url.includes('/node_modules/dep/'));
    assert.equal(dep?.[1], code);
  });

  it('leaves modules outside node_modules alone', async () => {
    const own = (await import(path.join(dir, 'own', 'index.js'))) as { default: { answer: number } };
    assert.equal(own.default.answer, 42);
    const loaded = [...seen].find(([url]) => url.includes('/own/'));
    assert.equal(loaded?.[1], `${code}${map}\n`);
  });
});
