// Cleanup policies, the pure parts around the algorithm: when a policy runs next (cadence, calendar months,
// cron) and which images Pods use (references parsed as Docker does; tags only on the registry's own hosts,
// digests whatever the host).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { imagesInUse, parseImageReference } from '../../operator/operations/cleanup/in-use.ts';
import { nextRunAfter } from '../../operator/operations/cleanup/schedule.ts';

const t = (iso: string) => new Date(iso);

describe('cleanup: the next run', () => {
  it('a cadence counts from the time given; months are calendar months', () => {
    assert.equal(
      nextRunAfter({ cadence: '1d' }, t('2026-01-31T10:00:00Z')).toISOString(),
      '2026-02-01T10:00:00.000Z',
    );
    assert.equal(
      nextRunAfter({ cadence: '14d' }, t('2026-01-31T10:00:00Z')).toISOString(),
      '2026-02-14T10:00:00.000Z',
    );
    assert.equal(
      nextRunAfter({ cadence: '1month' }, t('2026-01-15T10:00:00Z')).toISOString(),
      '2026-02-15T10:00:00.000Z',
    );
    assert.equal(
      nextRunAfter({ cadence: '3month' }, t('2026-11-15T10:00:00Z')).toISOString(),
      '2027-02-15T10:00:00.000Z',
    );
  });

  it('a cron schedule runs at its next minute (UTC), strictly after the time given', () => {
    assert.equal(
      nextRunAfter({ schedule: '30 2 * * *' }, t('2026-03-01T01:00:00Z')).toISOString(),
      '2026-03-01T02:30:00.000Z',
    );
    assert.equal(
      nextRunAfter({ schedule: '30 2 * * *' }, t('2026-03-01T02:30:00Z')).toISOString(),
      '2026-03-02T02:30:00.000Z',
    );
  });
});

describe('cleanup: images in use', () => {
  it('parses references as Docker does', () => {
    assert.deepEqual(parseImageReference('reg.example:5000/team/app:v1'), {
      host: 'reg.example:5000',
      repository: 'team/app',
      tag: 'v1',
    });
    assert.deepEqual(parseImageReference('team/app'), { repository: 'team/app' });
    assert.deepEqual(parseImageReference('localhost/app@sha256:abc'), {
      host: 'localhost',
      repository: 'app',
      digest: 'sha256:abc',
    });
    assert.equal(parseImageReference('reg.example/app@not a digest'), undefined);
  });

  it('tags count only on the registry hosts; digests from specs and image IDs count on any host', () => {
    const inUse = imagesInUse(
      [
        {
          spec: {
            containers: [{ image: 'reg.example/team/app:v1' }, { image: 'elsewhere.example/team/app:v2' }],
            initContainers: [{ image: 'reg.example/team/init' }],
          },
          status: {
            containerStatuses: [
              { image: 'reg.example/team/app:v1', imageID: 'reg.example/team/app@sha256:aaa' },
            ],
          },
        },
        { spec: { containers: [{ image: 'mirror.example/team/app@sha256:bbb' }] } },
        { status: { initContainerStatuses: [{ imageID: 'docker-pullable://reg.example/x@sha256:ccc' }] } },
      ],
      ['reg.example'],
    );
    assert.deepEqual([...inUse.references].sort(), ['team/app:v1', 'team/init:latest']);
    assert.deepEqual([...inUse.digests].sort(), ['sha256:aaa', 'sha256:bbb', 'sha256:ccc']);
  });
});
