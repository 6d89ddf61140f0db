// The Job built from the registry Deployment's pod template (operator/operations/pod-template-job.ts), as
// the collector Job uses it: its rendered output stays byte for byte what garbage-collection/job.ts rendered
// before the pod-template part was shared with the storage migration Job (same keys, same order, same values).
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { collectorJob, type JobInput } from '../../operator/operations/garbage-collection/job.ts';
import {
  lastLineJson,
  observePodTemplateJob,
  operationJobLabels,
} from '../../operator/operations/pod-template-job.ts';
import { parsedRegistry } from './registry-fixture.ts';

const registry = parsedRegistry({ storage: { filesystem: {} } });
const deployment: JobInput['deployment'] = {
  spec: {
    replicas: 2,
    template: {
      metadata: { labels: { a: 'b' } },
      spec: {
        serviceAccountName: 'reg-registry',
        securityContext: { runAsNonRoot: true, fsGroup: 65532 },
        initContainers: [{ name: 'init', image: 'busybox' }],
        affinity: {
          nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } },
        },
        tolerations: [{ key: 'k', operator: 'Exists' }],
        volumes: [
          { name: 'config', configMap: { name: 'reg-config' } },
          { name: 'data', persistentVolumeClaim: { claimName: 'reg-data' } },
        ],
        containers: [
          { name: 'sidecar', image: 'side:1' },
          {
            name: 'registry',
            image: 'berth:dev',
            imagePullPolicy: 'IfNotPresent',
            args: ['serve', '/etc/berth/config/config.yml'],
            ports: [{ containerPort: 5000 }],
            env: [
              { name: 'REGISTRY_HTTP_SECRET', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
              { name: 'TZ', value: 'UTC' },
            ],
            envFrom: [{ secretRef: { name: 'extra' } }],
            volumeMounts: [
              { name: 'config', mountPath: '/etc/berth/config' },
              { name: 'data', mountPath: '/var/lib/registry' },
            ],
            resources: { limits: { memory: '256Mi' } },
            securityContext: { readOnlyRootFilesystem: true },
            readinessProbe: { httpGet: { path: '/debug/health', port: 5000 } },
            livenessProbe: { httpGet: { path: '/debug/health', port: 5000 } },
          },
        ],
      },
    },
  },
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'reg-registry', namespace: 'team' },
};
const bare: JobInput['deployment'] = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'reg-registry' },
};
const input = (over: Partial<JobInput>): JobInput => ({
  registry,
  deployment,
  name: 'reg-gc-1',
  dryRun: false,
  deleteUntagged: true,
  timeoutSeconds: 600,
  sameNodeAsRegistry: true,
  ...over,
});

/** The sha256 of JSON.stringify of what the collector Job rendered before the extraction, per input. */
const beforeDigests: [string, JobInput, string][] = [
  [
    'the registry pod’s template, beside the registry, deleting untagged manifests',
    input({}),
    '4e0a1d5560175b14380139d99e10cf9a456af9a8ea25e3c685a1b40582ba5b0a',
  ],
  [
    'its own affinity, a dry run',
    input({
      name: 'reg-gc-2',
      dryRun: true,
      deleteUntagged: false,
      timeoutSeconds: 60,
      sameNodeAsRegistry: false,
    }),
    '0413e2c059b2cbce94e7c9b4ab78add04f5f7393c92d63b14a1b0cf27d78a441',
  ],
  [
    'no pod template',
    input({ deployment: bare, name: 'reg-gc-3', dryRun: true, timeoutSeconds: 1, sameNodeAsRegistry: false }),
    'cdecc536daf46c4fa35e791507b08888931ad024f8b323dc31fd4b46f25737b0',
  ],
];

const sha256 = (job: unknown) => createHash('sha256').update(JSON.stringify(job)).digest('hex');

describe('pod template Job: the collector Job as rendered before the extraction', () => {
  for (const [name, job, digest] of beforeDigests) {
    it(name, () => {
      const rendered = collectorJob(job);
      assert.equal(sha256(rendered), digest, JSON.stringify(rendered, null, 2));
    });
  }
});

describe('pod template Job: shared helpers', () => {
  it('labels name the operation, never the registry pod selector', () => {
    assert.deepEqual(operationJobLabels('reg', 'storage-migration'), {
      'app.kubernetes.io/managed-by': 'berth-operator',
      'berth.dev/registry': 'reg',
      'berth.dev/operation': 'storage-migration',
    });
  });

  it('reads the JSON object on the last line only', () => {
    assert.deepEqual(lastLineJson('progress\n{"a":1}\n'), { a: 1 });
    assert.equal(lastLineJson('{"a":1}\nprogress'), undefined);
    assert.equal(lastLineJson('{"a":'), undefined);
    assert.equal(lastLineJson(undefined), undefined);
  });

  it('observes the named container’s termination message', () => {
    const job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'j' },
      status: { conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded' }] },
    };
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      status: {
        containerStatuses: [
          { name: 'other', state: { terminated: { exitCode: 9, message: '{"n":9}' } } },
          { name: 'work', state: { terminated: { exitCode: 1, message: '{"n":1}' } } },
        ],
      },
    };
    assert.deepEqual(observePodTemplateJob(job, [pod], 'work', lastLineJson), {
      state: 'Failed',
      summary: { n: 1 },
      deadlineExceeded: true,
      message: 'DeadlineExceeded: the Job failed (exit code 1)',
    });
  });
});
