// spec.usage of a ContainerRegistry: rendered as the registry's `berth.usage.interval` (only when set, so
// registries without it keep their config and pods), and the operator's poll interval follows it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { registryConfigSchema } from '../../registry/config/schema.ts';
import { buildRegistryConfig } from '../../operator/render/config.ts';
import { usagePollMs } from '../../operator/operations/usage/interval.ts';
import { parsedRegistry } from './registry-fixture.ts';

const storage = { filesystem: { size: '1Gi' } };

function renderedInterval(spec: Record<string, unknown>): string {
  const config = registryConfigSchema.parse(buildRegistryConfig(parsedRegistry({ storage, ...spec })));
  return config.berth.usage.interval;
}

describe('spec.usage', () => {
  it('unset: no berth key rendered, the registry scans every 10m, the operator polls as often', () => {
    const cr = parsedRegistry({ storage });
    assert.equal(buildRegistryConfig(cr).berth, undefined);
    assert.equal(renderedInterval({}), '10m');
    assert.equal(usagePollMs(cr.spec), 600_000);
  });

  it('an interval is rendered and polled at', () => {
    assert.equal(renderedInterval({ usage: { interval: '1h' } }), '1h');
    assert.equal(usagePollMs(parsedRegistry({ storage, usage: { interval: '1h' } }).spec), 3_600_000);
    assert.equal(renderedInterval({ usage: {} }), '10m', 'the default, written out');
  });

  it('enabled: false turns scans off (interval 0) and the operator does not poll', () => {
    assert.equal(renderedInterval({ usage: { enabled: false } }), '0');
    assert.equal(usagePollMs(parsedRegistry({ storage, usage: { enabled: false } }).spec), undefined);
  });

  it('refuses an interval under a minute, naming the field', () => {
    assert.throws(() => parsedRegistry({ storage, usage: { interval: '30s' } }), /spec\.usage\.interval/);
  });
});
