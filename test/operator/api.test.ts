// The operator's parse of ContainerRegistry and CleanupPolicy objects: defaults, and errors that name the
// field in words a status condition can carry as they are.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  InvalidSpecError,
  compileTagRegex,
  cronError,
  isSharedStorage,
  mustParseContainerRegistry,
  parseAge,
  parseCleanupPolicy,
  parseCleanupPolicySpec,
  parseContainerRegistry,
  parseContainerRegistrySpec,
  selectedStorage,
  type FieldIssue,
  type ParseResult,
} from '../../operator/api/index.ts';

function registry(spec: unknown, name = 'registry'): unknown {
  return {
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'ContainerRegistry',
    metadata: { name, namespace: 'team', generation: 3, uid: 'u-1' },
    spec,
  };
}

function issuesOf(result: ParseResult<unknown>): FieldIssue[] {
  assert.equal(result.success, false, 'expected the parse to fail');
  return result.success ? [] : result.issues;
}

function onlyIssue(result: ParseResult<unknown>): FieldIssue {
  const issues = issuesOf(result);
  assert.equal(issues.length, 1, JSON.stringify(issues));
  const [issue] = issues;
  assert.ok(issue);
  return issue;
}

const fs = { filesystem: {} };

describe('parseContainerRegistry', () => {
  it('applies the defaults and keeps metadata', () => {
    const result = parseContainerRegistry(registry({ storage: { s3: { bucket: 'images' } } }));
    assert.ok(result.success, result.success ? '' : result.message);
    const { spec, metadata } = result.data;
    assert.equal(metadata.generation, 3);
    assert.equal(metadata['uid'], 'u-1');
    assert.equal(spec.replicas, 1);
    assert.equal(spec.deletionPolicy, 'Retain');
    assert.equal(spec.storage.s3?.region, 'us-east-1');
    assert.equal(spec.storage.delete, false);
    assert.equal(spec.storage.redirect, true);
    assert.deepEqual(spec.storage.uploadPurging, {
      enabled: true,
      age: '168h',
      interval: '24h',
      dryRun: false,
    });
    assert.equal(spec.auth.tokenLifetime, '5m');
    assert.equal(spec.garbageCollection.timeout, '1h');
    assert.equal(spec.ingress.enabled, false);
    assert.deepEqual(selectedStorage(spec.storage), { driver: 's3', config: spec.storage.s3 });
    assert.equal(isSharedStorage(spec.storage), true);
  });

  it('names a missing required field', () => {
    assert.deepEqual(onlyIssue(parseContainerRegistry(registry({}))), {
      field: 'spec.storage',
      message: 'required',
    });
    assert.deepEqual(onlyIssue(parseContainerRegistry(registry({ storage: { s3: {} } }))), {
      field: 'spec.storage.s3.bucket',
      message: 'required',
    });
    assert.deepEqual(
      issuesOf(parseContainerRegistry({ apiVersion: 'berth.dev/v1alpha1' })).map(
        (i) => `${i.field}: ${i.message}`,
      ),
      ['kind: must be "ContainerRegistry"', 'metadata: required', 'spec: required'],
    );
  });

  it('names an unknown field (a typo is not silently ignored)', () => {
    assert.deepEqual(onlyIssue(parseContainerRegistry(registry({ storage: fs, replica: 2 }))), {
      field: 'spec.replica',
      message: 'unknown field',
    });
  });

  it('says what type, range or value was expected', () => {
    assert.deepEqual(onlyIssue(parseContainerRegistry(registry({ storage: fs, replicas: 'two' }))), {
      field: 'spec.replicas',
      message: 'expected a number, got the string "two"',
    });
    assert.deepEqual(onlyIssue(parseContainerRegistry(registry({ storage: fs, replicas: 0 }))), {
      field: 'spec.replicas',
      message: 'must be at least 1',
    });
    assert.deepEqual(
      onlyIssue(parseContainerRegistry(registry({ storage: { filesystem: { accessMode: 'RWX' } } }))),
      {
        field: 'spec.storage.filesystem.accessMode',
        message: 'must be one of "ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany"',
      },
    );
    assert.deepEqual(
      onlyIssue(
        parseContainerRegistry(registry({ storage: fs, tolerations: [{ key: 'a' }, { effect: 'Never' }] })),
      ),
      {
        field: 'spec.tolerations[1].effect',
        message: 'must be one of "NoSchedule", "PreferNoSchedule", "NoExecute"',
      },
    );
    assert.deepEqual(
      onlyIssue(parseContainerRegistry(registry({ storage: fs, nodeSelector: { 'kubernetes.io/os': 1 } }))),
      { field: 'spec.nodeSelector["kubernetes.io/os"]', message: 'expected a string, got number 1' },
    );
    const size = onlyIssue(
      parseContainerRegistry(registry({ storage: { filesystem: { size: 'ten gigs' } } })),
    );
    assert.equal(size.field, 'spec.storage.filesystem.size');
    assert.match(size.message, /quantity|invalid/);
    assert.deepEqual(onlyIssue(parseContainerRegistry(registry({ storage: { s3: { bucket: 'ab' } } }))), {
      field: 'spec.storage.s3.bucket',
      message: 'must be at least 3 characters',
    });
  });

  it('gives the CEL rules’ messages at the field the API server blames', () => {
    assert.deepEqual(
      onlyIssue(parseContainerRegistry(registry({ storage: { ...fs, s3: { bucket: 'abc' } } }))),
      {
        field: 'spec.storage',
        message: 'exactly one storage driver must be set: filesystem, s3, gcs or azure',
      },
    );
    assert.deepEqual(onlyIssue(parseContainerRegistry(registry({ replicas: 2, storage: fs }))), {
      field: 'spec.replicas',
      message:
        'replicas > 1 needs shared storage: filesystem storage with accessMode ReadWriteMany, or s3, gcs or azure',
    });
    assert.deepEqual(
      onlyIssue(
        parseContainerRegistry(
          registry({
            storage: fs,
            ingress: {
              enabled: true,
              host: 'r.example.com',
              tls: { secretName: 's', issuerRef: { name: 'i' } },
            },
          }),
        ),
      ),
      { field: 'spec.ingress.tls', message: 'set either tls.secretName or tls.issuerRef, not both' },
    );
    assert.deepEqual(
      onlyIssue(parseContainerRegistry(registry({ storage: fs, ingress: { enabled: true } }))),
      {
        field: 'spec.ingress.host',
        message: 'ingress.host is required when the ingress is enabled',
      },
    );
    assert.deepEqual(onlyIssue(parseContainerRegistry(registry({ storage: fs }, 'Registry'))), {
      field: 'metadata.name',
      message:
        'ContainerRegistry names must be DNS-1035 labels (lowercase letters, digits and "-", starting with a letter) of at most 40 characters: they name Services',
    });
  });

  it('checks cron schedules with node-cron beyond what the API server can', () => {
    // Passes the CRD's pattern (a month name), refused by the scheduler: the reason is in the message.
    const issue = onlyIssue(
      parseContainerRegistry(registry({ storage: fs, garbageCollection: { schedule: '0 0 * MON *' } })),
    );
    assert.equal(issue.field, 'spec.garbageCollection.schedule');
    assert.match(
      issue.message,
      /^must be a cron schedule: .* \(month: MON is a invalid expression for month\)$/,
    );
    const impossible = onlyIssue(
      parseContainerRegistry(
        registry({ storage: fs, maintenanceWindows: [{ schedule: '0 0 31 2 *', duration: '1h' }] }),
      ),
    );
    assert.equal(impossible.field, 'spec.maintenanceWindows[0].schedule');
    assert.equal(cronError('@daily'), undefined);
    assert.equal(cronError('*/15 1-5 * JAN-MAR MON-FRI'), undefined);
    assert.match(cronError('0 0 3 * * *') ?? '', /5 fields/);
  });

  it('checks durations and their bounds', () => {
    assert.deepEqual(
      onlyIssue(parseContainerRegistry(registry({ storage: fs, auth: { tokenLifetime: '48h' } }))),
      {
        field: 'spec.auth.tokenLifetime',
        message:
          'must be a duration such as 30s, 5m or 1h30m (units ns, us, ms, s, m, h) between 1m and 24h (got 48h)',
      },
    );
    assert.equal(
      onlyIssue(parseContainerRegistry(registry({ storage: fs, garbageCollection: { timeout: '1d' } })))
        .field,
      'spec.garbageCollection.timeout',
    );
    const ok = parseContainerRegistry(registry({ storage: fs, auth: { tokenLifetime: '1h30m' } }));
    assert.ok(ok.success);
  });

  it('reports every issue at once, in one line for a condition message', () => {
    const result = parseContainerRegistry(registry({ replicas: -1, storage: { s3: {} }, extra: true }));
    const issues = issuesOf(result);
    assert.deepEqual(
      issues.map((i) => i.field),
      ['spec.replicas', 'spec.storage.s3.bucket', 'spec.extra'],
    );
    assert.ok(!result.success);
    assert.equal(
      result.message,
      'spec.replicas: must be at least 1; spec.storage.s3.bucket: required; spec.extra: unknown field',
    );
    assert.equal(result.reason, 'InvalidSpec');
  });

  it('parses a spec alone with the same field names, and throws from the must- variant', () => {
    assert.deepEqual(onlyIssue(parseContainerRegistrySpec({ storage: { gcs: {} } })), {
      field: 'spec.storage.gcs.bucket',
      message: 'required',
    });
    assert.throws(
      () => mustParseContainerRegistry(registry({ storage: {} })),
      (err: unknown) =>
        err instanceof InvalidSpecError &&
        err.message === 'spec.storage: exactly one storage driver must be set: filesystem, s3, gcs or azure',
    );
  });
});

describe('parseCleanupPolicy', () => {
  const policy = (spec: unknown): unknown => ({
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'CleanupPolicy',
    metadata: { name: 'p', namespace: 'team' },
    spec,
  });

  it('applies the GitLab-like defaults', () => {
    const result = parseCleanupPolicy(policy({ registryRef: { name: 'registry' }, cadence: '14d' }));
    assert.ok(result.success, result.success ? '' : result.message);
    assert.deepEqual(result.data.spec, {
      registryRef: { name: 'registry' },
      enabled: true,
      cadence: '14d',
      keepN: 10,
      olderThan: '90d',
      nameRegex: '.*',
      repositories: { include: ['**'], exclude: [] },
      dryRun: false,
      maxTagsPerRun: 1000,
      timeout: '1h',
      suspend: false,
    });
  });

  it('requires exactly one of cadence or schedule', () => {
    assert.deepEqual(onlyIssue(parseCleanupPolicySpec({ registryRef: { name: 'r' } })), {
      field: 'spec',
      message: 'set exactly one of cadence or schedule',
    });
    assert.equal(
      onlyIssue(parseCleanupPolicySpec({ registryRef: { name: 'r' }, cadence: '1d', schedule: '@daily' }))
        .message,
      'set exactly one of cadence or schedule',
    );
    assert.deepEqual(onlyIssue(parseCleanupPolicySpec({ registryRef: { name: 'r' }, cadence: '2d' })), {
      field: 'spec.cadence',
      message: 'must be one of "1d", "7d", "14d", "1month", "3month"',
    });
  });

  it('refuses tag regexes that are invalid or not RE2', () => {
    const base = { registryRef: { name: 'r' }, cadence: '1d' };
    assert.deepEqual(
      onlyIssue(parseCleanupPolicySpec({ ...base, nameRegex: 'v(1' })).field,
      'spec.nameRegex',
    );
    assert.match(
      onlyIssue(parseCleanupPolicySpec({ ...base, nameRegex: 'v(1' })).message,
      /not a valid regular/,
    );
    assert.deepEqual(onlyIssue(parseCleanupPolicySpec({ ...base, nameRegexKeep: '(?!dev).*' })), {
      field: 'spec.nameRegexKeep',
      message: 'lookahead and lookbehind are not supported (RE2 syntax)',
    });
    assert.deepEqual(onlyIssue(parseCleanupPolicySpec({ ...base, nameRegex: '(a)\\1' })), {
      field: 'spec.nameRegex',
      message: 'backreferences are not supported (RE2 syntax)',
    });
    assert.ok(compileTagRegex('v[0-9]+').test('v12'));
    assert.ok(!compileTagRegex('v[0-9]+').test('v12-rc'), 'the whole name must match');
  });

  it('checks ages and repository patterns', () => {
    const base = { registryRef: { name: 'r' }, cadence: '1d' };
    assert.deepEqual(onlyIssue(parseCleanupPolicySpec({ ...base, olderThan: '3 months' })), {
      field: 'spec.olderThan',
      message: 'must be an age such as 90d, 14d or 36h (units d, h, m, s)',
    });
    assert.equal(parseAge('90d'), 90 * 86_400_000);
    assert.equal(parseAge('1d12h'), 36 * 3_600_000);
    assert.throws(() => parseAge('1w'), /invalid age/);
    const pattern = onlyIssue(parseCleanupPolicySpec({ ...base, repositories: { include: ['Team/**'] } }));
    assert.equal(pattern.field, 'spec.repositories.include[0]');
    assert.match(pattern.message, /lowercase/);
  });
});
