// spec.notifications as the operator writes it into config.yml: the CRD's camelCase keys under Distribution's
// (and GitLab's maxretries) names, and a config the registry's own schema accepts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildRegistryConfig } from '../../operator/render/config.ts';
import { registryConfigSchema } from '../../registry/config/schema.ts';
import { parsedRegistry } from './registry-fixture.ts';

const registry = (spec: Record<string, unknown>) =>
  parsedRegistry({ storage: { filesystem: { size: '1Gi' } }, ...spec });

function renderedEndpoints(endpoint: Record<string, unknown>) {
  const config = buildRegistryConfig(
    registry({
      notifications: { endpoints: [{ name: 'audit', url: 'https://audit.example.test/', ...endpoint }] },
    }),
  );
  return registryConfigSchema.parse(config).notifications.endpoints;
}

describe('rendered notification endpoints', () => {
  it('carries maxRetries, backoff, threshold and the ignore rules under their config.yml names', () => {
    const [endpoint] = renderedEndpoints({
      maxRetries: 3,
      threshold: 2,
      backoff: '5s',
      timeout: '2s',
      ignoredMediaTypes: ['application/octet-stream'],
      ignoredActions: ['pull'],
    });
    assert.equal(endpoint?.maxretries, 3);
    assert.equal(endpoint?.threshold, 2);
    assert.equal(endpoint?.backoff, '5s');
    assert.equal(endpoint?.timeout, '2s');
    assert.deepEqual(endpoint?.ignoredmediatypes, ['application/octet-stream']);
    assert.deepEqual(endpoint?.ignore, { mediatypes: [], actions: ['pull'] });
    assert.equal(endpoint?.disabled, false);
  });

  it('leaves maxretries out when unset, so events are retried until delivered', () => {
    const config = buildRegistryConfig(
      registry({ notifications: { endpoints: [{ name: 'audit', url: 'https://audit.example.test/' }] } }),
    );
    const [endpoint] = (config.notifications?.endpoints ?? []) as Record<string, unknown>[];
    assert.ok(endpoint !== undefined);
    assert.equal('maxretries' in endpoint, false);
  });
});
