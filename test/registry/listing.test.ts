// Tags list and catalog pagination.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestRegistry, type TestRegistry } from './server.ts';
import { errorCode, pushImage, putManifest } from './client.ts';

describe('tags list and catalog', () => {
  let registry: TestRegistry;
  let url: string;
  before(async () => {
    registry = await startTestRegistry({ settings: { catalogMaxEntries: 3 } });
    url = registry.url;
    const image = await pushImage(url, 'list/app', 'b', [Buffer.from('x')]);
    for (const tag of ['a', 'c', 'd', '1.0']) await putManifest(url, 'list/app', tag, image.manifest);
    for (const name of ['list/other', 'list/deep/nested/repo', 'zeta'])
      await pushImage(url, name, 'latest', [Buffer.from(name)]);
  });
  after(() => registry.close());

  it('lists tags sorted', async () => {
    const res = await fetch(`${url}/v2/list/app/tags/list`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { name: 'list/app', tags: ['1.0', 'a', 'b', 'c', 'd'] });
  });

  it('paginates tags with n and last, with a Link header to the next page', async () => {
    const first = await fetch(`${url}/v2/list/app/tags/list?n=2`);
    assert.deepEqual(((await first.json()) as { tags: string[] }).tags, ['1.0', 'a']);
    assert.equal(first.headers.get('link'), '</v2/list/app/tags/list?last=a&n=2>; rel="next"');
    const second = await fetch(`${url}/v2/list/app/tags/list?n=2&last=a`);
    assert.deepEqual(((await second.json()) as { tags: string[] }).tags, ['b', 'c']);
    const last = await fetch(`${url}/v2/list/app/tags/list?n=2&last=c`);
    assert.deepEqual(((await last.json()) as { tags: string[] }).tags, ['d']);
    assert.equal(last.headers.get('link'), null);
    const zero = await fetch(`${url}/v2/list/app/tags/list?n=0`);
    assert.deepEqual(((await zero.json()) as { tags: string[] }).tags, []);
  });

  it('answers NAME_UNKNOWN for an unknown repository and PAGINATION_NUMBER_INVALID for a bad n', async () => {
    const unknown = await fetch(`${url}/v2/list/nothing/tags/list`);
    assert.equal(unknown.status, 404);
    assert.equal(await errorCode(unknown), 'NAME_UNKNOWN');
    const bad = await fetch(`${url}/v2/list/app/tags/list?n=-1`);
    assert.equal(bad.status, 400);
    assert.equal(await errorCode(bad), 'PAGINATION_NUMBER_INVALID');
  });

  it('lists the catalog in pages no larger than catalog.maxentries', async () => {
    const first = await fetch(`${url}/v2/_catalog`);
    assert.deepEqual(await first.json(), {
      repositories: ['list/app', 'list/deep/nested/repo', 'list/other'],
    });
    assert.equal(first.headers.get('link'), '</v2/_catalog?last=list%2Fother&n=3>; rel="next"');
    const second = await fetch(`${url}/v2/_catalog?n=3&last=list/other`);
    assert.deepEqual(await second.json(), { repositories: ['zeta'] });
    const tooMany = await fetch(`${url}/v2/_catalog?n=4`);
    assert.equal(tooMany.status, 400);
    assert.equal(await errorCode(tooMany), 'PAGINATION_NUMBER_INVALID');
  });
});
