// A real Kubernetes control plane for the operator tests: etcd and kube-apiserver (built from the
// upstream Go modules by test/tools/install-control-plane.sh, or taken from KUBEBUILDER_ASSETS), on
// loopback, with TLS, RBAC and ServiceAccount token signing, plus kubectl and helm bound to it.
//
// What is NOT running: kube-controller-manager, the scheduler and kubelets. So Deployments get no
// ReplicaSets or Pods, namespaces get no `default` ServiceAccount, deleted namespaces stay Terminating
// and ownerReferences do not cascade (no garbage collector). Everything served by the API server
// itself works: CRDs (Established by the apiextensions controller), CEL validation, server-side apply,
// dry-run, admission, RBAC, TokenRequest/TokenReview, SelfSubjectReview, watches.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { generateKeyPair, randomBytes, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { createCertificate, generatePrivateKey, type CertificateUsage } from '../../registry/auth/keypair.ts';
import { describeExit, spawnDaemon, type Daemon, type Exit } from './daemon.ts';
import { exec, tail, type ExecOptions, type ExecResult } from './exec.ts';
import { freePort } from './ports.ts';
import { makeTempDir, removeTempDir } from './tmp.ts';
import { repoRoot } from './tools.ts';
import { waitFor } from './wait.ts';

const installHint = 'run test/tools/install-control-plane.sh (or set KUBEBUILDER_ASSETS)';
const generateKeyPairAsync = promisify(generateKeyPair);

/** The issuer of ServiceAccount tokens (and their default audience). */
export const serviceAccountIssuer = 'https://kubernetes.default.svc.cluster.local';

export interface ControlPlaneBinaries {
  kubeApiserver: string;
  etcd: string;
  kubectl: string;
  helm: string;
}

/**
 * Where the binaries are: kube-apiserver, etcd and kubectl from KUBEBUILDER_ASSETS when it is set,
 * else from .cache/bin; helm always from .cache/bin. Throws a message that says how to get a missing one.
 */
export function controlPlaneBinaries(): ControlPlaneBinaries {
  const bin = path.join(repoRoot, '.cache/bin');
  const assets = process.env['KUBEBUILDER_ASSETS'];
  const from = assets !== undefined && assets !== '' ? assets : bin;
  const found = {
    kubeApiserver: path.join(from, 'kube-apiserver'),
    etcd: path.join(from, 'etcd'),
    kubectl: path.join(from, 'kubectl'),
    helm: path.join(bin, 'helm'),
  };
  const missing = Object.values(found).filter((f) => !existsSync(f));
  if (missing.length > 0) {
    throw new Error(`control-plane binaries missing: ${missing.join(', ')}; ${installHint}`);
  }
  return found;
}

export interface ApiResponse {
  status: number;
  body: string;
}

export interface ControlPlane {
  /** A kubeconfig (JSON) for the admin user (group system:masters), CA data inlined. */
  readonly kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** The admin's bearer token. */
  readonly token: string;
  /** The CA that signed the serving certificate (and client certificates from `createUser`). */
  readonly caFile: string;
  readonly caPem: string;
  /** The control plane's private temp dir (removed by `stop`). */
  readonly dir: string;
  readonly binaries: ControlPlaneBinaries;
  /** kubectl against this server as admin. Throws on a non-zero exit unless `check: false`. */
  kubectl(args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** helm with KUBECONFIG pointing here and private helm config/cache/data dirs. */
  helm(args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** A raw API request as admin (or with `token`); a JSON body is sent as application/json. */
  request(
    method: string,
    apiPath: string,
    opts?: { body?: unknown; token?: string; contentType?: string },
  ): Promise<ApiResponse>;
  /** etcd and kube-apiserver logs, for failure reports. */
  output(): string;
  /** Stops kube-apiserver and etcd and removes the temp dir. Safe to call more than once. */
  stop(): Promise<void>;
}

interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  saKey: string;
  saPub: string;
}

function pkiDir(cp: Pick<ControlPlane, 'dir'>): string {
  return path.join(cp.dir, 'pki');
}

/** The kube-apiserver serving certificate's names: loopback, the in-cluster names and Service IPs. */
const servingAltNames = [
  'IP:127.0.0.1',
  'DNS:localhost',
  'DNS:kubernetes',
  'DNS:kubernetes.default',
  'DNS:kubernetes.default.svc',
  'DNS:kubernetes.default.svc.cluster.local',
  'IP:10.0.0.1',
  'IP:10.96.0.1',
];

const certificateDays = 7;

async function writeKey(file: string, key: KeyObject): Promise<string> {
  const pem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  await writeFile(file, pem, { mode: 0o600 });
  return pem;
}

/**
 * A leaf certificate and its ES256 key signed by the test CA in `dir`, written as `<name>.crt` and
 * `<name>.key` there.
 */
async function issueCertificate(
  dir: string,
  name: string,
  subject: { commonName: string; organizations?: readonly string[] },
  usage: CertificateUsage,
  subjectAltNames: readonly string[] = [],
): Promise<{ cert: string; key: string }> {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.crt`);
  const [caKeyPem, caCertPem] = await Promise.all([
    readFile(path.join(dir, 'ca.key'), 'utf8'),
    readFile(path.join(dir, 'ca.crt'), 'utf8'),
  ]);
  const privateKeyPem = await writeKey(key, await generatePrivateKey('ES256'));
  const certificatePem = await createCertificate(privateKeyPem, {
    ...subject,
    issuer: { privateKeyPem: caKeyPem, certificatePem: caCertPem },
    ca: false,
    usages: [usage],
    subjectAltNames,
    days: certificateDays,
  });
  await writeFile(cert, certificatePem);
  return { cert, key };
}

async function makePki(dir: string, extraServingAltNames: readonly string[]): Promise<Pki> {
  await mkdir(dir, { recursive: true });
  const caCert = path.join(dir, 'ca.crt');
  const caKey = path.join(dir, 'ca.key');
  const saKey = path.join(dir, 'sa.key');
  const saPub = path.join(dir, 'sa.pub');
  const ca = (async () => {
    const caKeyPem = await writeKey(caKey, await generatePrivateKey('ES256'));
    const pem = await createCertificate(caKeyPem, {
      commonName: 'berth-test-ca',
      ca: true,
      days: certificateDays,
    });
    await writeFile(caCert, pem);
  })();
  // RSA for ServiceAccount tokens (RS256): what every JWT consumer accepts.
  const sa = (async () => {
    const { privateKey, publicKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
    await writeKey(saKey, privateKey);
    await writeFile(saPub, publicKey.export({ type: 'spki', format: 'pem' }).toString());
  })();
  await ca;
  const serving = await issueCertificate(dir, 'serving', { commonName: 'kube-apiserver' }, 'serverAuth', [
    ...servingAltNames,
    ...extraServingAltNames.filter((n) => !servingAltNames.includes(n)),
  ]);
  await sa;
  return { dir, caCert, caKey, servingCert: serving.cert, servingKey: serving.key, saKey, saPub };
}

interface KubeconfigUser {
  token?: string;
  'client-certificate-data'?: string;
  'client-key-data'?: string;
}

function kubeconfig(server: string, caPem: string, userName: string, user: KubeconfigUser): string {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'berth-test',
        cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') },
      },
    ],
    users: [{ name: userName, user }],
    contexts: [{ name: 'berth-test', context: { cluster: 'berth-test', user: userName } }],
    'current-context': 'berth-test',
    preferences: {},
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** An https request to the API server, trusting only the test CA. */
function apiRequest(
  server: string,
  caPem: string,
  method: string,
  apiPath: string,
  headers: Record<string, string>,
  body: string | undefined,
): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      new URL(apiPath, server),
      { method, ca: caPem, headers, timeout: 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${apiPath}: timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Environment for kubectl/helm: nothing from the caller's kube/helm setup leaks in. */
function toolEnv(dir: string, kubeconfigPath: string): NodeJS.ProcessEnv {
  return {
    ...cleanEnv(/^(HELM_|KUBECTL_|KUBECONFIG$|KUBERC$|KUBECACHEDIR$)/),
    KUBECONFIG: kubeconfigPath,
    KUBECACHEDIR: path.join(dir, 'kube-cache'),
    KUBERC: 'off',
    HELM_CACHE_HOME: path.join(dir, 'helm/cache'),
    HELM_CONFIG_HOME: path.join(dir, 'helm/config'),
    HELM_DATA_HOME: path.join(dir, 'helm/data'),
  };
}

function cleanEnv(prefix: RegExp): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!prefix.test(k)) env[k] = v;
  return env;
}

interface Started {
  daemon: Daemon;
  exit: () => Exit | undefined;
}

/** Starts a daemon on fresh ports; retries when a port was taken between picking it and binding it. */
async function startOnFreePorts(
  name: string,
  ports: number,
  start: (ports: number[]) => Daemon,
  ready: (ports: number[], started: Started) => Promise<void>,
): Promise<{ started: Started; ports: number[] }> {
  for (let attempt = 1; ; attempt++) {
    const picked: number[] = [];
    while (picked.length < ports) {
      const p = await freePort();
      if (!picked.includes(p)) picked.push(p);
    }
    const daemon = start(picked);
    let exit: Exit | undefined;
    void daemon.exited.then((e) => (exit = e));
    const started: Started = { daemon, exit: () => exit };
    try {
      await ready(picked, started);
      return { started, ports: picked };
    } catch (err) {
      await daemon.stop(5_000);
      if (attempt < 3 && /address already in use/i.test(daemon.output())) continue;
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(
        `${name} did not start: ${message}\n--- ${name} output\n${tail(daemon.output(), 6_000)}`,
        {
          cause: err,
        },
      );
    }
  }
}

function exitedReason(name: string, s: Started): () => string | undefined {
  return () => {
    const e = s.exit();
    return e === undefined ? undefined : `${name} exited (${describeExit(e)})`;
  };
}

export interface ControlPlaneOptions {
  /** Extra kube-apiserver flags (`--name=value`), appended last so they override the defaults. */
  apiserverArgs?: readonly string[];
  /** How long to wait for /readyz (default 180 s: the machine is shared). */
  readyTimeoutMs?: number;
  /**
   * More subjectAltNames for the kube-apiserver serving certificate (`IP:10.210.0.2`, `DNS:name`), e.g. when
   * `apiserverArgs` make it listen on an address other than loopback. Added to the defaults (loopback,
   * `kubernetes.default.svc...`, 10.0.0.1 and 10.96.0.1).
   */
  extraServingAltNames?: readonly string[];
  /**
   * The address kube-apiserver binds and advertises (default 127.0.0.1). The test cluster uses the host end
   * of its veth pair, which pods reach too.
   */
  address?: string;
  /** Work directory (created if missing, left in place by `stop`); default a fresh temp dir. */
  dir?: string;
  /** Starts etcd and kube-apiserver (default `spawnDaemon`); the test cluster logs to files instead. */
  spawn?: (name: string, file: string, args: readonly string[], env: NodeJS.ProcessEnv) => Daemon;
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const binaries = controlPlaneBinaries();
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? (await makeTempDir('k8s'));
  if (!ownDir) await mkdir(dir, { recursive: true });
  const address = opts.address ?? '127.0.0.1';
  const spawn =
    opts.spawn ??
    ((name: string, file: string, args: readonly string[], env: NodeJS.ProcessEnv) =>
      spawnDaemon(name, file, args, { env }));
  let etcd: Started | undefined;
  let apiserver: Started | undefined;
  let stopping: Promise<void> | undefined;

  const output = (): string =>
    [
      etcd && `--- etcd\n${etcd.daemon.output()}`,
      apiserver && `--- kube-apiserver\n${apiserver.daemon.output()}`,
    ]
      .filter((s) => s !== undefined)
      .join('\n');

  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await apiserver?.daemon.stop(15_000);
      await etcd?.daemon.stop(10_000);
      if (ownDir) await removeTempDir(dir);
    })());

  try {
    const pkiPromise = makePki(path.join(dir, 'pki'), opts.extraServingAltNames ?? []);
    // Make sure a failed etcd start does not leave the PKI promise rejected and unobserved.
    pkiPromise.catch(() => undefined);

    // --- etcd: loopback only, its own data dir; fsync off (test data, and much faster on shared disks).
    const etcdEnv = cleanEnv(/^ETCD(CTL)?_/);
    const etcdStart = await startOnFreePorts(
      'etcd',
      2,
      ([client, peer]) =>
        spawn(
          'etcd',
          binaries.etcd,
          [
            '--name=berth-test',
            // A data dir per attempt: a member bootstrapped with other peer URLs cannot be restarted.
            `--data-dir=${path.join(dir, `etcd-${String(client)}`)}`,
            `--listen-client-urls=http://127.0.0.1:${String(client)}`,
            `--advertise-client-urls=http://127.0.0.1:${String(client)}`,
            `--listen-peer-urls=http://127.0.0.1:${String(peer)}`,
            `--initial-advertise-peer-urls=http://127.0.0.1:${String(peer)}`,
            `--initial-cluster=berth-test=http://127.0.0.1:${String(peer)}`,
            '--unsafe-no-fsync',
            '--log-level=warn',
          ],
          etcdEnv,
        ),
      async ([client], started) => {
        etcd = started;
        await waitFor(
          'etcd /health',
          async () => {
            const res = await fetch(`http://127.0.0.1:${String(client)}/health`, {
              signal: AbortSignal.timeout(2_000),
            });
            const body = (await res.json()) as { health?: string };
            return res.ok && body.health === 'true' ? true : undefined;
          },
          { timeoutMs: 60_000, abort: exitedReason('etcd', started) },
        );
      },
    );
    const etcdUrl = `http://127.0.0.1:${String(etcdStart.ports[0])}`;

    const pki = await pkiPromise;
    const caPem = await readFile(pki.caCert, 'utf8');
    const token = randomBytes(24).toString('hex');
    const tokenFile = path.join(dir, 'tokens.csv');
    // token,user,uid,"groups": the admin bypasses RBAC (system:masters) like a cluster-admin kubeconfig.
    await writeFile(tokenFile, `${token},berth-test-admin,berth-test-admin,"system:masters"\n`, {
      mode: 0o600,
    });

    // --- kube-apiserver
    let server = '';
    await startOnFreePorts(
      'kube-apiserver',
      1,
      ([port]) => {
        server = `https://${address}:${String(port)}`;
        return spawn(
          'kube-apiserver',
          binaries.kubeApiserver,
          [
            `--etcd-servers=${etcdUrl}`,
            `--bind-address=${address}`,
            `--advertise-address=${address}`,
            `--secure-port=${String(port)}`,
            `--cert-dir=${path.join(dir, 'apiserver-certs')}`,
            `--tls-cert-file=${pki.servingCert}`,
            `--tls-private-key-file=${pki.servingKey}`,
            // Client certificates signed by the test CA authenticate (createUser); tokens from the file too.
            `--client-ca-file=${pki.caCert}`,
            `--token-auth-file=${tokenFile}`,
            '--anonymous-auth=true',
            '--authorization-mode=RBAC',
            // ServiceAccount tokens: TokenRequest signs with this key, TokenReview and requests verify them.
            `--service-account-issuer=${serviceAccountIssuer}`,
            `--service-account-key-file=${pki.saPub}`,
            `--service-account-signing-key-file=${pki.saKey}`,
            '--service-cluster-ip-range=10.0.0.0/24',
            // The `kubernetes` Service cannot get a loopback endpoint (validation refuses 127.0.0.1), and
            // nothing in the tests runs in a pod that would use it.
            '--endpoint-reconciler-type=none',
            // The default admission chain of a real cluster. None of it needs a controller to admit what
            // the operator writes; ServiceAccount admission only checks Pods (there are none: no
            // controller-manager), and it would reject a Pod whose ServiceAccount does not exist, as a
            // real cluster does.
            '--allow-privileged=true',
            '--profiling=false',
            '--v=0',
            ...(opts.apiserverArgs ?? []),
          ],
          process.env,
        );
      },
      async (_ports, started) => {
        apiserver = started;
        const headers = { authorization: `Bearer ${token}` };
        await waitFor(
          'kube-apiserver /readyz',
          async () => {
            const res = await apiRequest(server, caPem, 'GET', '/readyz', headers, undefined);
            return res.status === 200 ? true : undefined;
          },
          {
            timeoutMs: opts.readyTimeoutMs ?? 180_000,
            intervalMs: 250,
            abort: exitedReason('kube-apiserver', started),
          },
        );
        // The bootstrap controller creates `default` shortly after /readyz; tests may use it at once.
        await waitFor(
          'the default namespace',
          async () => {
            const res = await apiRequest(
              server,
              caPem,
              'GET',
              '/api/v1/namespaces/default',
              headers,
              undefined,
            );
            return res.status === 200 ? true : undefined;
          },
          { timeoutMs: 60_000, intervalMs: 250, abort: exitedReason('kube-apiserver', started) },
        );
      },
    );

    const kubeconfigPath = path.join(dir, 'kubeconfig.json');
    await writeFile(kubeconfigPath, kubeconfig(server, caPem, 'berth-test-admin', { token }), {
      mode: 0o600,
    });
    const env = toolEnv(dir, kubeconfigPath);

    return {
      kubeconfigPath,
      server,
      token,
      caFile: pki.caCert,
      caPem,
      dir,
      binaries,
      kubectl: (args, execOpts = {}) =>
        exec(binaries.kubectl, [`--kubeconfig=${kubeconfigPath}`, ...args], {
          timeoutMs: 120_000,
          ...execOpts,
          env: { ...env, ...execOpts.env },
        }),
      helm: (args, execOpts = {}) =>
        exec(binaries.helm, args, { timeoutMs: 120_000, ...execOpts, env: { ...env, ...execOpts.env } }),
      request: (method, apiPath, reqOpts = {}) => {
        const headers: Record<string, string> = {
          authorization: `Bearer ${reqOpts.token ?? token}`,
          accept: 'application/json',
        };
        let body: string | undefined;
        if (reqOpts.body !== undefined) {
          body = typeof reqOpts.body === 'string' ? reqOpts.body : JSON.stringify(reqOpts.body);
          headers['content-type'] = reqOpts.contentType ?? 'application/json';
        }
        return apiRequest(server, caPem, method, apiPath, headers, body);
      },
      output,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function parseJson(res: ApiResponse, what: string): unknown {
  try {
    return JSON.parse(res.body);
  } catch {
    throw new Error(`${what}: HTTP ${String(res.status)}, not JSON: ${res.body.slice(0, 500)}`);
  }
}

export interface ServiceAccountTokenOptions {
  namespace: string;
  name: string;
  /** Token audiences (default: the API server's, i.e. the issuer). */
  audiences?: readonly string[];
  /** Lifetime; the API server's minimum is 600 s (default 3600 s). */
  expirationSeconds?: number;
}

/**
 * Creates the ServiceAccount if it does not exist (the namespace must) and returns a bound token for it
 * from the TokenRequest API (what `kubectl create token` does).
 */
export async function createServiceAccountToken(
  cp: ControlPlane,
  opts: ServiceAccountTokenOptions,
): Promise<string> {
  const { namespace, name, audiences, expirationSeconds = 3600 } = opts;
  const base = `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts`;
  const created = await cp.request('POST', base, {
    body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } },
  });
  if (created.status !== 201 && created.status !== 409) {
    throw new Error(
      `creating ServiceAccount ${namespace}/${name}: HTTP ${String(created.status)} ${created.body}`,
    );
  }
  const res = await cp.request('POST', `${base}/${encodeURIComponent(name)}/token`, {
    body: {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { audiences: audiences ?? [], expirationSeconds },
    },
  });
  const tr = parseJson(res, 'TokenRequest') as { status?: { token?: string } };
  const tokenValue = tr.status?.token;
  if (res.status !== 201 || tokenValue === undefined) {
    throw new Error(`TokenRequest for ${namespace}/${name}: HTTP ${String(res.status)} ${res.body}`);
  }
  return tokenValue;
}

/** Writes a kubeconfig for this server that authenticates with `token`; returns its path. */
export async function writeTokenKubeconfig(
  cp: ControlPlane,
  token: string,
  userName: string,
): Promise<string> {
  const file = path.join(cp.dir, `kubeconfig-${userName.replace(/[^\w.-]+/g, '_')}.json`);
  await writeFile(file, kubeconfig(cp.server, cp.caPem, userName, { token }), { mode: 0o600 });
  return file;
}

export interface UserCredentials {
  /** A kubeconfig that authenticates as the user with a client certificate. */
  kubeconfigPath: string;
  certFile: string;
  keyFile: string;
}

/**
 * An additional (non-ServiceAccount) user: a client certificate from the test CA with CN=name and
 * O=group for each group, as kubeadm issues them. The user has no rights until RBAC grants some. Names and
 * groups are up to 64 of `A-Za-z0-9 ._:/@-` (what createCertificate accepts).
 */
export async function createUser(
  cp: ControlPlane,
  name: string,
  groups: readonly string[] = [],
): Promise<UserCredentials> {
  const file = `user-${name.replace(/[^\w.-]+/g, '_')}`;
  const { cert, key } = await issueCertificate(
    pkiDir(cp),
    file,
    { commonName: name, organizations: groups },
    'clientAuth',
  );
  const user: KubeconfigUser = {
    'client-certificate-data': (await readFile(cert)).toString('base64'),
    'client-key-data': (await readFile(key)).toString('base64'),
  };
  const kubeconfigPath = path.join(cp.dir, `kubeconfig-${file}.json`);
  await writeFile(kubeconfigPath, kubeconfig(cp.server, cp.caPem, name, user), { mode: 0o600 });
  return { kubeconfigPath, certFile: cert, keyFile: key };
}
