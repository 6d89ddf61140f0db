// CleanupPolicy on a real single-node cluster (test/harness/cluster.ts): the operator from the image built from
// the working tree, a ContainerRegistry behind the Ingress, images pushed with known creation dates (through
// the API) and with a real Docker engine, and running Pods, pulled by the node from the registry, that use two
// of the tags (one by tag, one by digest). A dry
// run reports what GitLab's algorithm would delete and deletes nothing; the real run deletes exactly those
// tags, by tag, keeps the ones in use, and leaves other repositories alone; Docker pulls kept tags and not
// deleted ones; 2,000 tags go in runs of maxTagsPerRun 500, oldest first, the operator killed during one;
// a regex RE2 refuses is refused at admission, one JavaScript would read differently gets a condition.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildScratchImage, removeClientState } from '../harness/clients.ts';
import { buildPauseImage } from '../harness/cluster-images.ts';
import {
  installRegistry,
  leaderPod,
  signalPod,
  startBerthCluster,
  type BerthCluster,
} from '../harness/berth-on-cluster.ts';
import { bearerFor, ingressCall, pushApiImage, type IngressTarget } from '../harness/ingress-api.ts';
import { conditionOf, getObject, listObjects, type KubeObject } from '../harness/kube.ts';
import { inParallel } from '../harness/parallel.ts';
import { waitFor } from '../harness/wait.ts';

const namespace = 'cleanup';
const host = 'cleanup.berth.test';
const name = 'registry';
const user = 'cleanup-bot';
const policyName = 'expire-old';
const day = 24 * 60 * 60 * 1000;

let env: BerthCluster;
let target: IngressTarget;
let secret = '';
const digests: Record<string, string> = {};

const kubectl = (args: readonly string[], input?: string) =>
  env.cluster.kubectl(args, input === undefined ? {} : { input });
const apply = (obj: unknown) =>
  kubectl(['apply', '--server-side', '--field-manager=e2e', '-f', '-'], JSON.stringify(obj));

interface LastRun {
  id?: string;
  trigger?: string;
  request?: string;
  report?: string;
  result?: string;
  dryRun?: boolean;
  repositories?: number;
  tagsDeleted?: number;
  tagsKept?: number;
  tagsInUse?: number;
  truncated?: boolean;
  message?: string;
}
const policyObject = (policy = policyName) =>
  getObject(env.cluster, ['cleanuppolicy', '-n', namespace, policy]);
const statusOf = (p: KubeObject | undefined) =>
  (p?.status ?? {}) as { lastRun?: LastRun; nextRun?: string; operation?: unknown };

function applyPolicy(spec: Record<string, unknown>, policy = policyName) {
  return apply({
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'CleanupPolicy',
    metadata: { name: policy, namespace },
    spec: { registryRef: { name }, cadence: '1d', ...spec },
  });
}

/** Asks for a run now (a new berth.dev/run value). */
function requestRun(request: string, policy: string) {
  return kubectl([
    '-n',
    namespace,
    'annotate',
    '--overwrite',
    'cleanuppolicy',
    policy,
    `berth.dev/run=${request}`,
  ]);
}

/** Runs the policy now and waits for the run's record. */
async function runNow(request: string, policy = policyName): Promise<LastRun> {
  await requestRun(request, policy);
  return waitFor(
    `cleanup run ${request}`,
    async () => {
      const s = statusOf(await policyObject(policy));
      return s.operation === undefined && s.lastRun?.request === request ? s.lastRun : undefined;
    },
    { timeoutMs: 180_000, intervalMs: 1_000 },
  );
}

/** The tags of `repo` that still resolve (GET manifest by tag). */
async function tagsPresent(repo: string, tags: readonly string[]): Promise<string[]> {
  const auth = await bearerFor(target, user, secret, `repository:${repo}:pull`);
  const present: string[] = [];
  for (const tag of tags) {
    const res = await ingressCall(target, 'HEAD', `/v2/${repo}/manifests/${tag}`, {
      ...auth,
      accept:
        'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
    });
    if (res.status === 200) present.push(tag);
    else assert.equal(res.status, 404, `${repo}:${tag}: ${String(res.status)}`);
  }
  return present;
}

/** The Pods that run tags of team/app: name, image reference, tag. */
const inUsePods = () =>
  [
    ['by-tag', `${host}/team/app:v2`, 'v2'],
    ['by-digest', `${host}/team/app@${digests['v3'] ?? ''}`, 'v3'],
  ] as const;

/** Waits until the Pod's container runs and returns the image ID containerd resolved for it. */
function runningImageId(pod: string): Promise<string> {
  return waitFor(
    `pod apps/${pod} running`,
    async () => {
      const obj = await getObject(env.cluster, ['pod', '-n', 'apps', pod]);
      const status = obj?.status as
        { containerStatuses?: { imageID?: string; state?: { running?: unknown } }[] } | undefined;
      const c = status?.containerStatuses?.[0];
      return c?.state?.running !== undefined && c.imageID ? c.imageID : undefined;
    },
    { timeoutMs: 180_000, intervalMs: 1_000 },
  );
}

const oldDate = (month: number) => new Date(Date.UTC(2020, month - 1, 1)).toISOString();

describe('cleanup policies on a real cluster', { concurrency: false }, () => {
  before(async () => {
    env = await startBerthCluster(host, 'cluster-cleanup-e2e');
  });

  after(async () => {
    await env?.dockerd.stop();
    await removeClientState();
    await env?.cluster.down();
  });

  test('a registry with tags of known dates, a docker-pushed image, and running Pods, pulled by the node, using two of the tags', async () => {
    ({ target, secret } = await installRegistry(env, {
      operatorNamespace: 'berth-system',
      namespace,
      name,
      host,
      user,
      scopes: ['read_registry', 'write_registry', 'delete_registry'],
      repositories: ['team/**'],
      volume: { name: 'cleanup-data', size: '1Gi' },
      applyRegistry: () =>
        apply({
          apiVersion: 'berth.dev/v1alpha1',
          kind: 'ContainerRegistry',
          metadata: { name, namespace },
          spec: {
            storage: { filesystem: { size: '1Gi' }, delete: true },
            ingress: { enabled: true, className: 'traefik', host, tls: {} },
            auth: { accessTokensFrom: { matchLabels: { 'berth.dev/access-tokens': 'registry' } } },
            resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } },
          },
        }),
    }));
    const auth = await bearerFor(target, user, secret, 'repository:team/app:pull,push');
    const dated: Record<string, string> = {
      latest: oldDate(1),
      v1: oldDate(1),
      v2: oldDate(2),
      v3: oldDate(3),
      v4: oldDate(4),
      main: oldDate(5),
      v5: new Date(Date.now() - day).toISOString(),
    };
    // v2 and v3 are runnable (the pause binary), so the Pods below really run them.
    for (const [tag, created] of Object.entries(dated)) {
      const image = tag === 'v2' || tag === 'v3' ? await buildPauseImage({ created }) : undefined;
      digests[tag] = await pushApiImage(target, 'team/app', tag, auth, {
        created,
        ...(image !== undefined ? { image } : {}),
      });
    }
    for (let i = 1; i <= 5; i++) {
      await pushApiImage(target, 'team/app', `w${String(i)}`, auth, { created: oldDate(i) });
    }
    const other = await bearerFor(target, user, secret, 'repository:team/other:pull,push');
    await pushApiImage(target, 'team/other', 'v1', other, { created: oldDate(1) });
    // A real client's image: its config's created is the build time, so it is new.
    await buildScratchImage(env.dockerd.docker, `${host}/team/app:docker`, 1, { layerBytes: 64 * 1024 });
    await env.dockerd.docker(['push', `${host}/team/app:docker`], { timeoutMs: 300_000 });

    // Running Pods that use v2 (by tag) and v3 (by digest): the node's containerd pulls them through the
    // Ingress with the bot's credentials, as any workload would.
    await env.cluster.trustRegistry(host, target.ca);
    await kubectl(['create', 'namespace', 'apps']);
    const auths = {
      [host]: { username: user, password: secret, auth: Buffer.from(`${user}:${secret}`).toString('base64') },
    };
    await apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'pull', namespace: 'apps' },
      type: 'kubernetes.io/dockerconfigjson',
      stringData: { '.dockerconfigjson': JSON.stringify({ auths }) },
    });
    for (const [pod, image] of inUsePods()) {
      await apply({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: pod, namespace: 'apps' },
        spec: {
          containers: [{ name: 'app', image, resources: { requests: { cpu: '5m', memory: '8Mi' } } }],
          imagePullSecrets: [{ name: 'pull' }],
        },
      });
    }
    for (const [pod, , tag] of inUsePods()) {
      const imageID = await runningImageId(pod);
      console.log(`pod apps/${pod} runs ${tag}: ${imageID}`);
      assert.ok(imageID.endsWith(`@${digests[tag] ?? ''}`), `${pod} runs ${tag}: ${imageID}`);
    }
  });

  test('a dry run reports what the algorithm would delete (v1, v4: old, not keepN, not kept by regex, not in use) and deletes nothing', async () => {
    await applyPolicy({
      keepN: 1,
      olderThan: '30d',
      nameRegex: 'v.*|main',
      nameRegexKeep: 'main',
      dryRun: true,
      repositories: { include: ['team/**'], exclude: ['team/other'] },
    });
    const run = await runNow('dry-1');
    console.log(`dry run: ${JSON.stringify(run)}`);
    assert.equal(run.result, 'Succeeded', run.message);
    assert.equal(run.dryRun, true);
    assert.equal(run.tagsDeleted, 2, 'would delete v1 and v4');
    assert.equal(run.tagsInUse, 2, 'v2 (by tag) and v3 (by digest) in use');
    assert.equal(run.repositories, 1, 'team/other excluded');
    const report = await getObject(env.cluster, ['configmap', '-n', namespace, run.report ?? '']);
    const text = String((report as { data?: Record<string, string> } | undefined)?.data?.['report.txt']);
    console.log(text);
    assert.match(text, /would delete: v1, v4/);
    assert.match(text, /kept \(inUse\): v2, v3/);
    assert.match(text, /kept \(keepN\): v5/);
    assert.match(text, /kept \(nameRegexKeep\): main/);
    assert.match(text, /kept \(latest\): latest/);
    assert.deepEqual(await tagsPresent('team/app', ['v1', 'v4']), ['v1', 'v4'], 'a dry run deletes nothing');
    const policy = await policyObject();
    assert.equal(conditionOf(policy, 'Ready')?.status, 'True', JSON.stringify(policy?.status));
    const next = Date.parse(statusOf(policy).nextRun ?? '');
    assert.ok(
      Math.abs(next - (Date.now() + day)) < 10 * 60_000,
      `next run a day from now: ${String(statusOf(policy).nextRun)}`,
    );
  });

  test('the run deletes exactly v1 and v4, by tag; tags in use, kept tags and other repositories stay; the docker image still pulls', async () => {
    await applyPolicy({
      keepN: 1,
      olderThan: '30d',
      nameRegex: 'v.*|main',
      nameRegexKeep: 'main',
      repositories: { include: ['team/**'], exclude: ['team/other'] },
    });
    const run = await runNow('run-1');
    console.log(`run: ${JSON.stringify(run)}`);
    assert.equal(run.result, 'Succeeded', run.message);
    assert.equal(run.dryRun, false);
    assert.equal(run.tagsDeleted, 2);
    const all = ['latest', 'v1', 'v2', 'v3', 'v4', 'v5', 'main', 'docker', 'w1'];
    assert.deepEqual(await tagsPresent('team/app', all), [
      'latest',
      'v2',
      'v3',
      'v5',
      'main',
      'docker',
      'w1',
    ]);
    assert.deepEqual(await tagsPresent('team/other', ['v1']), ['v1']);
    for (const [pod, , tag] of inUsePods()) {
      const imageID = await runningImageId(pod);
      assert.ok(imageID.endsWith(`@${digests[tag] ?? ''}`), `${pod} still runs ${tag}: ${imageID}`);
    }
    await env.dockerd.docker(['rmi', `${host}/team/app:docker`]);
    await env.dockerd.docker(['pull', `${host}/team/app:docker`], { timeoutMs: 120_000 });
    // Docker: a kept tag pulls, a deleted one is gone.
    await env.dockerd.docker(['pull', `${host}/team/app:v5`], { timeoutMs: 120_000 });
    const gone = await env.dockerd.docker(['pull', `${host}/team/app:v1`], {
      check: false,
      timeoutMs: 120_000,
    });
    assert.notEqual(gone.code, 0, 'a deleted tag does not pull');
    assert.match(gone.stderr, /not found|manifest unknown/i, gone.stderr);
    const events = (await listObjects(env.cluster, ['events', '-n', namespace])).map(
      (e) => (e as { reason?: string }).reason,
    );
    assert.ok(events.includes('CleanupSucceeded'), `events: ${events.join(', ')}`);
  });

  test('maxTagsPerRun bounds a run: the oldest expired tags go first, the run reports truncated, the next run goes on', async () => {
    await applyPolicy({ keepN: 0, olderThan: '30d', nameRegex: 'w.*', maxTagsPerRun: 2 }, 'expire-w');
    const first = await runNow('w-1', 'expire-w');
    assert.equal(first.tagsDeleted, 2);
    assert.equal(first.truncated, true);
    const w = ['w1', 'w2', 'w3', 'w4', 'w5'];
    assert.deepEqual(await tagsPresent('team/app', w), ['w3', 'w4', 'w5']);
    const second = await runNow('w-2', 'expire-w');
    assert.equal(second.tagsDeleted, 2);
    assert.deepEqual(await tagsPresent('team/app', w), ['w5']);
  });

  test('2,000 tags with maxTagsPerRun 500: runs of 500, the operator killed during one; in the end exactly the 10 newest remain', async () => {
    const repo = 'team/bulk';
    const auth = await bearerFor(target, user, secret, `repository:${repo}:pull,push`);
    const count = 2000;
    const name = (i: number) => `b${String(i).padStart(4, '0')}`;
    const started = Date.now();
    await inParallel(count, 8, async (i) => {
      const created = new Date(Date.UTC(2020, 0, 1) + i * 60_000).toISOString();
      await pushApiImage(target, repo, name(i), auth, { created });
    });
    console.log(`pushed ${String(count)} tags in ${String((Date.now() - started) / 1000)} s`);
    await applyPolicy(
      {
        keepN: 10,
        olderThan: '30d',
        nameRegex: 'b[0-9]+',
        maxTagsPerRun: 500,
        repositories: { include: [repo] },
      },
      'bulk',
    );
    const runs: LastRun[] = [];
    runs.push(await runNow('bulk-1', 'bulk'));
    // The next run: the leader is killed once it has deleted some tags (mid-run).
    const tagCount = async () => {
      const res = await ingressCall(target, 'GET', `/v2/${repo}/tags/list?n=10000`, auth);
      return ((JSON.parse(res.body) as { tags: string[] | null }).tags ?? []).length;
    };
    const afterFirst = await tagCount();
    await requestRun('bulk-2', 'bulk');
    const midRun = await waitFor(
      'run bulk-2 to delete some tags',
      async () => {
        const n = await tagCount();
        return n <= afterFirst - 20 ? n : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 100 },
    );
    const leader = await leaderPod(env.cluster, 'berth-system');
    await signalPod(env.cluster, 'berth-system', leader, 'SIGKILL');
    const deletedBeforeKill = afterFirst - (await tagCount());
    console.log(
      `operator ${leader} killed during run bulk-2, ${String(afterFirst - midRun)}+ tags into it (${String(deletedBeforeKill)} deleted when it died)`,
    );
    assert.ok(deletedBeforeKill < 500, 'killed before the run ended');
    runs.push(await runNow('bulk-2', 'bulk'));
    for (let n = 3; runs.at(-1)?.truncated === true && n <= 6; n++)
      runs.push(await runNow(`bulk-${String(n)}`, 'bulk'));
    console.log(
      // Kept counts too: a run that ends early with tags left would show them here (a flake seen once).
      `bulk runs: ${runs.map((r) => `${String(r.tagsDeleted)}${r.truncated === true ? ' (truncated)' : ''} [kept ${String(r.tagsKept)}: ${r.message ?? ''}]`).join(', ')}`,
    );
    for (const r of runs) {
      assert.equal(r.result, 'Succeeded', r.message);
      assert.ok((r.tagsDeleted ?? 0) <= 500, `a run deletes at most 500: ${String(r.tagsDeleted)}`);
    }
    assert.equal(runs.at(-1)?.truncated, false, 'the last run finished the work');
    assert.ok(runs.length >= 4 && runs.length <= 5, `${String(runs.length)} runs`);
    const list = await ingressCall(target, 'GET', `/v2/${repo}/tags/list?n=10000`, auth);
    const left = ((JSON.parse(list.body) as { tags: string[] | null }).tags ?? []).sort();
    const newest = Array.from({ length: 10 }, (_, k) => name(count - 10 + k));
    assert.deepEqual(left, newest, 'exactly the 10 newest tags remain');
  });

  test('bad regexes: RE2-refused ones (lookahead) are refused by the API server; ones JavaScript would read differently get a condition', async () => {
    const refused = await kubectl(
      ['apply', '--server-side', '--field-manager=e2e', '-f', '-'],
      JSON.stringify({
        apiVersion: 'berth.dev/v1alpha1',
        kind: 'CleanupPolicy',
        metadata: { name: 'bad-regex', namespace },
        spec: { registryRef: { name }, cadence: '1d', nameRegex: '(?=v)v.*' },
      }),
    ).catch((err: unknown) => ({ code: 1, stderr: String(err), stdout: '' }));
    assert.notEqual(refused.code, 0, 'a lookahead is refused at admission');
    assert.match(refused.stderr, /spec\.nameRegex/);
    await applyPolicy({ nameRegex: '\\Av.*' }, 'js-differs');
    const condition = await waitFor(
      'the InvalidSpec condition',
      async () => {
        const c = conditionOf(await policyObject('js-differs'), 'Ready');
        return c?.reason === 'InvalidSpec' ? c : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1_000 },
    );
    console.log(`refused at admission: ${refused.stderr.trim()}; condition: ${String(condition.message)}`);
    assert.match(condition.message ?? '', /spec\.nameRegex/);
  });
});
