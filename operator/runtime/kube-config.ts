// Where the API server is and how to authenticate to it: kubeconfig files, KUBECONFIG, ~/.kube/config and
// in-cluster ServiceAccount credentials, with the rules @kubernetes/client-node's KubeConfig follows.
//
// Why not KubeConfig itself: importing @kubernetes/client-node loads its whole generated API client, ~85 MiB
// of RSS (25 MiB of heap) for a process whose requests are plain HTTPS. The common cases (a token, a token
// file, client certificates, basic auth) are a few lines here; a user with an `exec` or `auth-provider`
// plugin still goes through KubeConfig, imported only then.
import { existsSync, readFileSync } from 'node:fs';
import type { AgentOptions, RequestOptions } from 'node:https';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import path from 'node:path';
import * as yaml from 'js-yaml';

/** The TLS options of the agent that talks to the API server. */
export type KubeTls = Pick<
  AgentOptions,
  'ca' | 'cert' | 'key' | 'pfx' | 'passphrase' | 'rejectUnauthorized' | 'servername'
>;

export interface KubeConnection {
  /** The API server's URL; undefined when the kubeconfig has no current cluster. */
  readonly server: string | undefined;
  /** TLS material, read once for the keep-alive agent. */
  tls(): Promise<KubeTls>;
  /** Auth headers (lower-case names), asked for each request: tokens rotate, plugins refresh. */
  headers(): Promise<Record<string, string>>;
}

const serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';
/** A token file is read again after this long (client-go and client-node do the same). */
const tokenFileTtlMs = 60_000;

type Entry = Record<string, unknown>;
interface Named {
  name: string;
  value: Entry;
}

interface ParsedFile {
  currentContext: string | undefined;
  clusters: Named[];
  users: Named[];
  contexts: Named[];
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function named(list: unknown, field: string, dir: string): Named[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((e: Entry) => {
    const name = str(e['name']);
    const value = e[field];
    if (name === undefined || typeof value !== 'object' || value === null) return [];
    // Relative file paths are relative to the kubeconfig file.
    const resolved: Entry = { ...(value as Entry) };
    for (const k of ['certificate-authority', 'client-certificate', 'client-key', 'token-file']) {
      const p = str(resolved[k]);
      if (p !== undefined && !path.isAbsolute(p)) resolved[k] = path.join(dir, p);
    }
    return [{ name, value: resolved }];
  });
}

function parseFile(file: string): ParsedFile {
  const doc = (yaml.load(readFileSync(file, 'utf8')) ?? {}) as Entry;
  const dir = path.dirname(file);
  return {
    currentContext: str(doc['current-context']),
    clusters: named(doc['clusters'], 'cluster', dir),
    users: named(doc['users'], 'user', dir),
    contexts: named(doc['contexts'], 'context', dir),
  };
}

/** Several files (KUBECONFIG=a:b) merge as client-node merges them: a later current-context wins. */
function mergeFiles(files: readonly string[]): ParsedFile {
  const merged: ParsedFile = { currentContext: undefined, clusters: [], users: [], contexts: [] };
  for (const f of files) {
    const p = parseFile(f);
    merged.currentContext = p.currentContext ?? merged.currentContext;
    for (const k of ['clusters', 'users', 'contexts'] as const) {
      for (const e of p[k]) {
        if (merged[k].some((m) => m.name === e.name)) throw new Error(`Duplicate ${k}: ${e.name}`);
        merged[k].push(e);
      }
    }
  }
  return merged;
}

function fileOrData(file: unknown, data: unknown): Buffer | undefined {
  const f = str(file);
  if (f !== undefined) return readFileSync(f);
  const d = str(data);
  return d !== undefined ? Buffer.from(d, 'base64') : undefined;
}

/** A token read from a file, again at most once a minute (kubelet rotates projected tokens). */
function tokenFileReader(file: string): () => string {
  let token = '';
  let readAt = -Infinity;
  return () => {
    if (Date.now() - readAt > tokenFileTtlMs) {
      token = readFileSync(file, 'utf8').trim();
      readAt = Date.now();
    }
    return token;
  };
}

function staticConnection(server: string | undefined, cluster: Entry, user: Entry): KubeConnection {
  const tls: KubeTls = {};
  if (cluster['insecure-skip-tls-verify'] === true) tls.rejectUnauthorized = false;
  const servername = str(cluster['tls-server-name']);
  if (servername !== undefined) tls.servername = servername;
  const ca = fileOrData(cluster['certificate-authority'], cluster['certificate-authority-data']);
  if (ca !== undefined) tls.ca = ca;
  const cert = fileOrData(user['client-certificate'], user['client-certificate-data']);
  if (cert !== undefined) tls.cert = cert;
  const key = fileOrData(user['client-key'], user['client-key-data']);
  if (key !== undefined) tls.key = key;

  const token = str(user['token']);
  const tokenFile = str(user['token-file']);
  const readToken =
    token !== undefined ? () => token : tokenFile !== undefined ? tokenFileReader(tokenFile) : undefined;
  const username = str(user['username']);
  const password = typeof user['password'] === 'string' ? user['password'] : '';
  const impersonate = str(user['as']);
  return {
    server,
    tls: () => Promise.resolve(tls),
    headers: () => {
      const h: Record<string, string> = {};
      if (impersonate !== undefined) h['impersonate-user'] = impersonate;
      if (readToken !== undefined) h['authorization'] = `Bearer ${readToken()}`;
      if (username !== undefined) {
        h['authorization'] = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
      }
      return Promise.resolve(h);
    },
  };
}

/** Auth plugins (`exec`, `auth-provider`): KubeConfig does the work, loaded on first use. */
function pluginConnection(server: string | undefined, kubeconfigPath: string | undefined): KubeConnection {
  let kc: Promise<import('@kubernetes/client-node').KubeConfig> | undefined;
  const options = async (): Promise<RequestOptions> => {
    kc ??= import('@kubernetes/client-node').then(({ KubeConfig }) => {
      const c = new KubeConfig();
      if (kubeconfigPath !== undefined) c.loadFromFile(kubeconfigPath);
      else c.loadFromDefault();
      return c;
    });
    const opts: RequestOptions = {};
    await (await kc).applyToHTTPSOptions(opts);
    return opts;
  };
  return {
    server,
    tls: async () => {
      const o = await options();
      const tls: KubeTls = { ca: o.ca, cert: o.cert, key: o.key, pfx: o.pfx, passphrase: o.passphrase };
      if (o.rejectUnauthorized !== undefined) tls.rejectUnauthorized = o.rejectUnauthorized;
      if (o.servername !== undefined) tls.servername = o.servername;
      return tls;
    },
    headers: async () => {
      const h: Record<string, string> = {};
      for (const [k, v] of Object.entries((await options()).headers ?? {})) {
        if (v !== undefined) h[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
      }
      return h;
    },
  };
}

function fromFiles(files: readonly string[], kubeconfigPath: string | undefined): KubeConnection {
  const cfg = mergeFiles(files);
  const context = cfg.contexts.find((c) => c.name === cfg.currentContext)?.value;
  const cluster = cfg.clusters.find((c) => c.name === str(context?.['cluster']))?.value;
  const user = cfg.users.find((u) => u.name === str(context?.['user']))?.value ?? {};
  const server = str(cluster?.['server'])?.replace(/\/$/, '');
  if (user['exec'] !== undefined || user['auth-provider'] !== undefined) {
    return pluginConnection(server, kubeconfigPath);
  }
  return staticConnection(server, cluster ?? {}, user);
}

/** The in-cluster ServiceAccount connection (`dir`: where the kubelet mounts the token; tests use another). */
export function inClusterConnection(dir = serviceAccountDir): KubeConnection {
  const host = process.env['KUBERNETES_SERVICE_HOST'] ?? '';
  const port = process.env['KUBERNETES_SERVICE_PORT'] ?? '';
  const scheme = ['80', '8080', '8001'].includes(port) ? 'http' : 'https';
  const server = `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  return staticConnection(
    server,
    { 'certificate-authority': `${dir}/ca.crt` },
    { 'token-file': `${dir}/token` },
  );
}

/**
 * The connection described by `kubeconfigPath`, or (none) by KUBECONFIG, ~/.kube/config, the in-cluster
 * ServiceAccount, or else http://localhost:8080 — KubeConfig.loadFromDefault's order.
 */
export function loadKubeConnection(kubeconfigPath?: string): KubeConnection {
  if (kubeconfigPath !== undefined && kubeconfigPath !== '')
    return fromFiles([kubeconfigPath], kubeconfigPath);
  const env = process.env['KUBECONFIG'];
  if (env !== undefined && env !== '') {
    return fromFiles(
      env.split(path.delimiter).filter((f) => f !== ''),
      undefined,
    );
  }
  const home = path.join(homedir(), '.kube', 'config');
  if (existsSync(home)) return fromFiles([home], home);
  if (existsSync(`${serviceAccountDir}/token`)) return inClusterConnection();
  return staticConnection('http://localhost:8080', {}, {});
}
