// The storage migration Job (operator/operations/storage-migration/job.ts) built from the registry's rendered
// Deployment, the target config it reads (target-config.ts), the summary read back from the termination
// message, and the wrapper script run for real with a stand-in berth-registry.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storageSchema, type StorageSpec } from '../../operator/api/index.ts';
import { renderRegistry } from '../../operator/render/registry.ts';
import type { KubeObject } from '../../operator/runtime/objects.ts';
import {
  jobObjectName,
  jobScript,
  migrationJob,
  observeMigrationJob,
  parseMigrateSummary,
  type MigrationJobInput,
} from '../../operator/operations/storage-migration/job.ts';
import { jobNameOf, runId } from '../../operator/operations/storage-migration/state.ts';
import {
  buildMigrationTargetConfig,
  renderMigrationTargetConfig,
} from '../../operator/operations/storage-migration/target-config.ts';
import { parseConfig } from '../../registry/config/load.ts';
import { migrateCommand } from '../../registry/migrate/command.ts';
import { parsedRegistry } from './registry-fixture.ts';

const material = {
  signing: { privateKeyPem: 'key', certificatePem: 'cert' },
  httpSecret: 'secret',
  selfSignedTls: { privateKeyPem: 'tls-key', certificatePem: 'tls-cert', host: 'reg.example.test' },
};

const storage = (s: Record<string, unknown>): StorageSpec => storageSchema.parse(s);
const fsRwo = storage({ filesystem: {} });
const fsRwx = storage({ filesystem: { accessMode: 'ReadWriteMany', claimName: 'shared' } });
const s3 = storage({
  s3: {
    bucket: 'images',
    endpoint: 'http://minio:9000',
    forcePathStyle: true,
    credentialsSecretRef: { name: 'minio' },
  },
});
const s3Irsa = storage({ s3: { bucket: 'images' } });
const gcs = storage({ gcs: { bucket: 'blobs', credentialsSecretRef: { name: 'gcs-key' } } });

/** The registry's Deployment as the reconciler renders it for `source`. */
function deploymentFor(source: StorageSpec): {
  registry: KubeObject;
  deployment: MigrationJobInput['deployment'];
} {
  const registry = parsedRegistry({ storage: source });
  const out = renderRegistry({ registry, material, referencedSecrets: {}, defaultImage: 'berth:dev' });
  const deployment = out.objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'reg-registry');
  assert.ok(deployment);
  return { registry, deployment };
}

type Container = {
  name: string;
  image?: string;
  command: string[];
  env?: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  volumeMounts: { name: string; mountPath: string }[];
  terminationMessagePolicy?: string;
  readinessProbe?: unknown;
  livenessProbe?: unknown;
  securityContext?: { readOnlyRootFilesystem?: boolean };
};
type PodSpec = {
  restartPolicy: string;
  serviceAccountName?: string;
  volumes: {
    name: string;
    persistentVolumeClaim?: { claimName: string };
    configMap?: unknown;
    secret?: unknown;
  }[];
  containers: Container[];
  affinity?: { podAffinity?: unknown };
};
type JobSpec = {
  backoffLimit: number;
  activeDeadlineSeconds: number;
  template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
};

function build(source: StorageSpec, target: StorageSpec, deleteExtra = false) {
  const job = migrationJob({
    ...deploymentFor(source),
    name: 'reg-mig-20300102030000-s1',
    source,
    target,
    deleteExtra,
    timeoutSeconds: 900,
  });
  const spec = job.spec as JobSpec;
  const pod = spec.template.spec;
  const [c] = pod.containers;
  assert.ok(c);
  const args = c.command.slice(4);
  const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.valueFrom?.secretKeyRef]));
  const mounts = Object.fromEntries(c.volumeMounts.map((m) => [m.mountPath, m.name]));
  return { job, spec, pod, c, args, env, mounts };
}

describe('storage migration Job: built from the registry Deployment', () => {
  it('filesystem → S3: the registry image and volumes, both configs, the target keys under their own prefix', () => {
    const { job, spec, pod, c, args, env, mounts } = build(fsRwo, s3);
    assert.equal(job.metadata.name, 'reg-mig-20300102030000-s1');
    assert.equal(job.metadata.ownerReferences?.[0]?.uid, 'u-1');
    assert.equal(job.metadata.labels?.['berth.dev/operation'], 'storage-migration');
    assert.equal(
      spec.template.metadata.labels['app.kubernetes.io/component'],
      undefined,
      'not a Service endpoint',
    );
    assert.equal(spec.backoffLimit, 0);
    assert.equal(spec.activeDeadlineSeconds, 900);
    assert.equal(pod.restartPolicy, 'Never');
    assert.equal(pod.serviceAccountName, 'reg-registry');
    assert.equal(c.name, 'migrate');
    assert.equal(c.image, 'berth:dev');
    assert.equal(c.readinessProbe, undefined);
    assert.equal(c.livenessProbe, undefined);
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true, 'the registry’s security context');
    assert.equal(c.terminationMessagePolicy, 'FallbackToLogsOnError');
    assert.deepEqual(c.command.slice(0, 2), ['sh', '-c']);
    assert.equal(c.command[3], 'migrate');
    assert.deepEqual(args, [
      '--from-env-prefix',
      'MIGRATE_FROM_',
      '--to-env-prefix',
      'MIGRATE_TO_',
      '--from',
      '/etc/berth/config/config.yml',
      '--to',
      '/etc/berth/migrate/migrate-target.yml',
    ]);
    assert.deepEqual(env, {
      MIGRATE_TO_STORAGE_S3_ACCESSKEY: { name: 'minio', key: 'AWS_ACCESS_KEY_ID' },
      MIGRATE_TO_STORAGE_S3_SECRETKEY: { name: 'minio', key: 'AWS_SECRET_ACCESS_KEY' },
    });
    assert.equal(mounts['/etc/berth/config'], 'config', 'the source config (config.yml)');
    assert.equal(mounts['/var/lib/registry'], 'data', 'the source claim');
    assert.equal(mounts['/tmp'], 'tmp');
    assert.equal(mounts['/etc/berth/migrate'], 'migrate-target-config');
    const target = pod.volumes.find((v) => v.name === 'migrate-target-config');
    assert.deepEqual(target?.configMap, {
      name: 'reg-config',
      items: [{ key: 'migrate-target.yml', path: 'migrate-target.yml' }],
    });
    assert.ok(pod.affinity?.podAffinity, 'a ReadWriteOnce source: beside the registry pod');
  });

  it('S3 → filesystem: the source keys renamed, no REGISTRY_* left, the target claim at its own path, --delete', () => {
    const { pod, args, env, mounts } = build(s3, fsRwo, true);
    assert.deepEqual(Object.keys(env).sort(), [
      'MIGRATE_FROM_STORAGE_S3_ACCESSKEY',
      'MIGRATE_FROM_STORAGE_S3_SECRETKEY',
    ]);
    assert.ok(
      !Object.keys(env).some((n) => n.startsWith('REGISTRY_')),
      'no HTTP secret, no keys both sides would read',
    );
    assert.equal(args.at(-1), '--delete');
    assert.equal(mounts['/var/lib/registry-target'], 'migrate-target-data');
    const claim = pod.volumes.find((v) => v.name === 'migrate-target-data');
    assert.equal(claim?.persistentVolumeClaim?.claimName, 'reg-data', 'the generated claim');
    assert.ok(pod.affinity?.podAffinity, 'a ReadWriteOnce target: beside the registry pod');
  });

  it('no keys in Secrets: no prefix flags (what migrate accepts today), a GCS target key file of its own', () => {
    const { pod, args, env, mounts } = build(fsRwx, gcs);
    assert.deepEqual(args, [
      '--from',
      '/etc/berth/config/config.yml',
      '--to',
      '/etc/berth/migrate/migrate-target.yml',
    ]);
    assert.deepEqual(env, {});
    assert.equal(mounts['/var/lib/registry'], 'data', 'the source claim');
    assert.equal(mounts['/etc/berth/gcs-target'], 'migrate-target-gcs');
    assert.equal(pod.affinity, undefined, 'ReadWriteMany and a bucket: anywhere');
    assert.equal(build(fsRwx, s3Irsa).args.length, 4);
  });

  it('Job names of a 40-character registry stay within 63 characters', () => {
    const id = runId(new Date('2030-01-02T03:00:00Z'));
    const longest = jobObjectName('r'.repeat(40), jobNameOf(id, 'final', 36 ** 2 - 1));
    assert.ok(longest.length <= 63, longest);
  });

  /** Runs the real `migrate` command on the Job's args, its config paths moved where nothing is. */
  async function migrateOn(args: string[]): Promise<{ code: number; errorCode: string | undefined }> {
    const out: string[] = [];
    const io = { stdout: { write: (t: string) => out.push(t) }, stderr: { write: () => true } };
    const code = await migrateCommand(
      ['--quiet', ...args.map((a) => a.replace('/etc/berth', '/nonexistent'))],
      io,
    );
    return { code, errorCode: parseMigrateSummary(out.join(''))?.errorCode };
  }

  it('the args without keys are what `berth-registry migrate` parses (it then looks for the configs)', async () => {
    const { args } = build(fsRwx, gcs);
    assert.deepEqual(await migrateOn(args), { code: 2, errorCode: 'MIGRATE_CONFIG' }, 'not MIGRATE_USAGE');
  });

  it('the args with keys (--from-env-prefix / --to-env-prefix) are what `berth-registry migrate` parses', async () => {
    const { args } = build(fsRwo, s3);
    assert.ok(args.includes('--from-env-prefix') && args.includes('--to-env-prefix'));
    assert.deepEqual(await migrateOn(args), { code: 2, errorCode: 'MIGRATE_CONFIG' }, 'not MIGRATE_USAGE');
  });
});

describe('storage migration Job: the target config', () => {
  const cr = parsedRegistry({ storage: { filesystem: {} } });

  it('a filesystem target at the Job’s target path; the source keeps the registry’s', () => {
    const config = buildMigrationTargetConfig(cr, storage({ filesystem: { claimName: 'new' } }));
    assert.deepEqual(config.storage.filesystem, { rootdirectory: '/var/lib/registry-target' });
    assert.deepEqual(config.storage.maintenance?.readonly, { enabled: false });
  });

  it('a GCS key file at the Job’s target key path', () => {
    const config = buildMigrationTargetConfig(cr, gcs);
    assert.equal(
      (config.storage.gcs as { keyfile?: string }).keyfile,
      '/etc/berth/gcs-target/credentials.json',
    );
  });

  it('an S3 target as config.yml will name it, without a secret, and loadable by the registry', () => {
    const text = renderMigrationTargetConfig(cr, s3, 'mig-1');
    assert.match(text, /^# migration target of ContainerRegistry team\/reg \(mig-1\)/);
    assert.doesNotMatch(text, /accesskey|secretkey/i);
    const loaded = parseConfig(
      text,
      { MIGRATE_TO_STORAGE_S3_ACCESSKEY: 'ignored here' },
      'migrate-target.yml',
    );
    assert.equal(loaded.config.storage.s3?.bucket, 'images');
    assert.equal(loaded.config.storage.s3?.regionendpoint, 'http://minio:9000');
  });
});

describe('storage migration Job: the summary read back', () => {
  it('parses the last JSON line, keeping only well-typed known fields', () => {
    assert.deepEqual(
      parseMigrateSummary(
        'progress\n{"objectsCopied":3,"bytesCopied":9,"dryRun":false,"verified":{"objects":3,"bytes":"x"}}\n',
      ),
      { objectsCopied: 3, bytesCopied: 9, verified: { objects: 3 } },
    );
    assert.deepEqual(
      parseMigrateSummary('{"objectsCopied":-1,"error":"boom","errorCode":"MIGRATE_FAILED"}'),
      {
        error: 'boom',
        errorCode: 'MIGRATE_FAILED',
      },
    );
    assert.equal(parseMigrateSummary('{"objectsCopied":3,"err'), undefined, 'cut by the kubelet');
    assert.equal(parseMigrateSummary('no json'), undefined);
    assert.equal(parseMigrateSummary('[1]'), undefined);
    assert.equal(parseMigrateSummary(undefined), undefined);
  });

  const jobWith = (conditions: { type: string; status: string; reason?: string; message?: string }[]) => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'j' },
    status: { conditions },
  });
  const podWith = (message: string, exitCode: number) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p' },
    status: { containerStatuses: [{ name: 'migrate', state: { terminated: { exitCode, message } } }] },
  });

  it('a running Job, a completed one with its summary, a failed one with its error and exit code', () => {
    assert.deepEqual(observeMigrationJob(jobWith([]), []), { state: 'Running' });
    assert.deepEqual(
      observeMigrationJob(jobWith([{ type: 'Complete', status: 'True' }]), [
        podWith('{"objectsCopied":1}', 0),
      ]),
      {
        state: 'Succeeded',
        summary: { objectsCopied: 1 },
      },
    );
    const failed = observeMigrationJob(
      jobWith([
        {
          type: 'Failed',
          status: 'True',
          reason: 'BackoffLimitExceeded',
          message: 'has reached the specified backoff limit',
        },
      ]),
      [podWith('{"error":"verification failed","errorCode":"MIGRATE_VERIFY"}', 1)],
    );
    assert.equal(failed.state, 'Failed');
    assert.equal(failed.summary?.errorCode, 'MIGRATE_VERIFY');
    assert.match(failed.message ?? '', /BackoffLimitExceeded.*exit code 1/);
    const deadline = observeMigrationJob(
      jobWith([{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded' }]),
      [],
    );
    assert.equal(deadline.deadlineExceeded, true);
  });
});

describe('storage migration Job: the wrapper script', () => {
  /** Runs the script with a stand-in berth-registry that prints `stdout` and exits with `code`. */
  function run(stdout: string, code: number) {
    const dir = mkdtempSync(join(tmpdir(), 'migration-job-'));
    try {
      writeFileSync(join(dir, 'out.txt'), stdout);
      const fake = join(dir, 'berth-registry');
      writeFileSync(
        fake,
        `#!/bin/sh\necho "args: $*" >&2\ncat "${join(dir, 'out.txt')}"\nexit ${String(code)}\n`,
      );
      chmodSync(fake, 0o755);
      const termination = join(dir, 'termination-log');
      const res = spawnSync('sh', ['-c', jobScript, 'migrate', '--from', 'a', '--to', 'b', '--delete'], {
        env: {
          PATH: `${dir}:${process.env['PATH'] ?? ''}`,
          TMPDIR: dir,
          TERMINATION_MESSAGE_PATH: termination,
        },
        encoding: 'utf8',
      });
      return {
        status: res.status,
        stdout: res.stdout,
        stderr: res.stderr,
        message: readFileSync(termination, 'utf8'),
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('passes the args, keeps the exit code, logs the summary and puts its last line in the termination message', () => {
    const summary = '{"objectsCopied":2,"error":"storage unreachable","errorCode":"MIGRATE_FAILED"}';
    const r = run(`${summary}\n`, 1);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /args: migrate --from a --to b --delete/);
    assert.equal(r.stdout, `${summary}\n`);
    assert.equal(r.message, `${summary}\n`);
  });

  it('a summary too long for the termination message loses its error text, not its code or counts', () => {
    const long = `{"objectsCopied":2,"verified":{"objects":1,"bytes":3},"error":"verification failed:\\n  ${'x'.repeat(5000)}","errorCode":"MIGRATE_VERIFY"}`;
    const r = run(`${long}\n`, 1);
    assert.ok(r.message.length < 4096);
    assert.deepEqual(parseMigrateSummary(r.message), {
      objectsCopied: 2,
      verified: { objects: 1, bytes: 3 },
      error: 'too long for the termination message: see the Job log',
      errorCode: 'MIGRATE_VERIFY',
    });
    assert.equal(r.stdout, `${long}\n`, 'the log keeps all of it');
  });
});
