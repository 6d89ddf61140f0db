// The two configuration files a registry runs with, built from a parsed ContainerRegistry:
//
// - config.yml for `berth-registry serve` (Distribution's format), validated with the registry's own schema
//   (registry/config/schema.ts) so a config the registry would refuse never reaches a pod;
// - token-server.yml for `berth-registry token-server`, validated with the issuer's schema.
//
// Neither file holds a secret: the HTTP secret and storage credentials reach the registry as REGISTRY_*
// environment variables from Secrets (the registry applies them as config overrides), key material as files.
import { dump } from 'js-yaml';
import type { z } from 'zod';
import type { ContainerRegistry, S3Storage, StorageSpec } from '../api/index.ts';
import { selectedStorage } from '../api/index.ts';
import {
  parseDuration,
  registryConfigSchema,
  type RegistryConfigInput,
} from '../../registry/config/schema.ts';
import {
  tokenServerConfigSchema,
  type TokenServerConfigInput,
} from '../../registry/auth/token-server-config.ts';
import { childNames, paths, ports, tokenRealmPath } from './names.ts';

export class ConfigRenderError extends Error {
  readonly issues: string[];
  constructor(file: string, issues: string[]) {
    super(`the rendered ${file} is invalid: ${issues.join('; ')}`);
    this.name = 'ConfigRenderError';
    this.issues = issues;
  }
}

function issuesOf(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
}

/** Where clients reach the registry: the Ingress host over HTTPS, or the in-cluster Service. */
export function registryEndpoint(cr: ContainerRegistry): string {
  const { ingress } = cr.spec;
  if (ingress.enabled && ingress.host !== undefined) return `https://${ingress.host}`;
  const n = childNames(cr.metadata.name);
  return `http://${n.registry}.${cr.metadata.namespace}.svc:${String(ports.registry)}`;
}

/** The token endpoint clients are sent to (the `realm` of the registry's challenge). */
export function tokenRealm(cr: ContainerRegistry): string {
  const { ingress } = cr.spec;
  if (ingress.enabled && ingress.host !== undefined) return `https://${ingress.host}${tokenRealmPath}`;
  const n = childNames(cr.metadata.name);
  return `http://${n.issuer}.${cr.metadata.namespace}.svc:${String(ports.issuer)}${tokenRealmPath}`;
}

/** Environment variable names for values that come from Secrets (applied by the registry as overrides). */
export const registryEnv = {
  httpSecret: 'REGISTRY_HTTP_SECRET',
  s3AccessKey: 'REGISTRY_STORAGE_S3_ACCESSKEY',
  s3SecretKey: 'REGISTRY_STORAGE_S3_SECRETKEY',
  azureAccountKey: 'REGISTRY_STORAGE_AZURE_ACCOUNTKEY',
} as const;

/** The optional S3 driver keys, each only when the spec sets it (the driver's defaults apply otherwise). */
function s3Tuning(s3: S3Storage): Record<string, unknown> {
  const keys = {
    storageclass: s3.storageClass,
    chunksize: s3.chunkSize,
    secure: s3.secure,
    skipverify: s3.skipVerify,
    maxrequestspersecond: s3.maxRequestsPerSecond,
  };
  return Object.fromEntries(Object.entries(keys).filter(([, value]) => value !== undefined));
}

/** storage.cache, or undefined when the spec asks for no cache (config.yml then has no cache section). */
function blobDescriptorCache(
  cache: StorageSpec['cache'],
): { blobdescriptor: 'inmemory'; blobdescriptorsize?: number } | undefined {
  if (cache?.blobDescriptor === undefined) return undefined;
  return {
    blobdescriptor: cache.blobDescriptor,
    ...(cache.blobDescriptorSize !== undefined ? { blobdescriptorsize: cache.blobDescriptorSize } : {}),
  };
}

/** The registry's config.yml content (as an object; `readOnly` decides storage.maintenance.readonly). */
export function buildRegistryConfig(
  cr: ContainerRegistry,
  opts: { readOnly?: boolean } = {},
): RegistryConfigInput {
  const spec = cr.spec;
  const storage = selectedStorage(spec.storage);
  let driver: Record<string, unknown>;
  switch (storage.driver) {
    case 'filesystem':
      driver = { filesystem: { rootdirectory: paths.data } };
      break;
    case 's3': {
      const s3 = storage.config;
      driver = {
        s3: {
          bucket: s3.bucket,
          region: s3.region,
          ...(s3.endpoint !== undefined ? { regionendpoint: s3.endpoint } : {}),
          forcepathstyle: s3.forcePathStyle,
          ...(s3.rootDirectory !== undefined ? { rootdirectory: s3.rootDirectory } : {}),
          encrypt: s3.encrypt,
          ...(s3.kmsKeyId !== undefined ? { keyid: s3.kmsKeyId } : {}),
          ...s3Tuning(s3),
        },
      };
      break;
    }
    case 'gcs': {
      const gcs = storage.config;
      driver = {
        gcs: {
          bucket: gcs.bucket,
          ...(gcs.rootDirectory !== undefined ? { rootdirectory: gcs.rootDirectory } : {}),
          ...(gcs.credentialsSecretRef !== undefined
            ? { keyfile: `${paths.gcsDir}/${gcs.credentialsSecretRef.key}` }
            : {}),
        },
      };
      break;
    }
    case 'azure': {
      const az = storage.config;
      driver = {
        azure: {
          accountname: az.accountName,
          container: az.container,
          ...(az.rootDirectory !== undefined ? { rootdirectory: az.rootDirectory } : {}),
          ...(az.endpoint !== undefined ? { serviceurl: az.endpoint } : {}),
          // With a Secret the account key arrives as REGISTRY_STORAGE_AZURE_ACCOUNTKEY (shared key).
          ...(az.credentialsSecretRef === undefined ? { credentials: { type: 'default_credentials' } } : {}),
        },
      };
      break;
    }
  }
  const purging = spec.storage.uploadPurging;
  const cache = blobDescriptorCache(spec.storage.cache);
  const config: RegistryConfigInput = {
    version: '0.1',
    log: { level: 'info', fields: { registry: `${cr.metadata.namespace}/${cr.metadata.name}` } },
    storage: {
      ...driver,
      delete: { enabled: spec.storage.delete },
      redirect: { disable: storage.driver === 'filesystem' ? true : !spec.storage.redirect },
      ...(cache !== undefined ? { cache } : {}),
      maintenance: {
        uploadpurging: {
          enabled: purging.enabled,
          age: purging.age,
          interval: purging.interval,
          dryrun: purging.dryRun,
        },
        readonly: { enabled: opts.readOnly ?? spec.readOnly },
      },
    },
    auth: {
      token: {
        realm: tokenRealm(cr),
        service: spec.auth.service,
        issuer: spec.auth.issuer,
        rootcertbundle: paths.tokenCert,
      },
    },
    http: {
      addr: `:${String(ports.registry)}`,
      ...(spec.ingress.enabled && spec.ingress.host !== undefined
        ? { host: `https://${spec.ingress.host}` }
        : {}),
      draintimeout: '20s',
    },
    health: { storagedriver: { enabled: true, interval: '10s', threshold: 3 } },
  };
  // Only when set: a registry without spec.usage keeps the config (and pods) it had before the key existed.
  if (spec.usage !== undefined) {
    config.berth = { usage: { interval: spec.usage.enabled ? spec.usage.interval : '0' } };
  }
  const notifications = spec.notifications;
  if (notifications !== undefined && notifications.endpoints.length > 0) {
    config.notifications = {
      events: { includereferences: notifications.includeReferences },
      endpoints: notifications.endpoints.map((e) => ({
        name: e.name,
        url: e.url,
        headers: e.headers ?? {},
        timeout: e.timeout,
        threshold: e.threshold,
        backoff: e.backoff,
        ...(e.maxRetries !== undefined ? { maxretries: e.maxRetries } : {}),
        ignoredmediatypes: e.ignoredMediaTypes ?? [],
        ignore: { mediatypes: [], actions: e.ignoredActions ?? [] },
        disabled: e.disabled,
      })),
    };
  }
  const checked = registryConfigSchema.safeParse(config);
  if (!checked.success) throw new ConfigRenderError('config.yml', issuesOf(checked.error));
  return config;
}

/** The token issuer's token-server.yml content. */
export function buildIssuerConfig(cr: ContainerRegistry): TokenServerConfigInput {
  const auth = cr.spec.auth;
  const config: TokenServerConfigInput = {
    addr: `:${String(ports.issuer)}`,
    realmPath: tokenRealmPath,
    issuer: auth.issuer,
    service: auth.service,
    signingKey: paths.signingKey,
    certificate: paths.signingCert,
    lifetime: Math.round(parseDuration(auth.tokenLifetime) / 1000),
    public: auth.publicRepositories,
    // Behind the Ingress the client address is the last hop's X-Forwarded-For (rate limiting per client).
    trustProxy: cr.spec.ingress.enabled ? 1 : false,
    log: { level: 'info' },
  };
  if (auth.accessTokensFrom !== undefined) config.accessTokenFile = paths.accessTokens;
  if (auth.serviceAccountAccess.enabled) {
    config.kubernetes = {
      apiServer: 'https://kubernetes.default.svc',
      tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
      caFile: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
      ...(auth.serviceAccountAccess.audiences !== undefined
        ? { audiences: auth.serviceAccountAccess.audiences }
        : {}),
      ...(auth.serviceAccountAccess.namespaces !== undefined
        ? { namespaces: auth.serviceAccountAccess.namespaces }
        : {}),
    };
  }
  const checked = tokenServerConfigSchema.safeParse(config);
  if (!checked.success) throw new ConfigRenderError('token-server.yml', issuesOf(checked.error));
  return config;
}

export function toYaml(value: unknown, header: string): string {
  return `# ${header}\n${dump(value, { sortKeys: true, lineWidth: -1, noRefs: true })}`;
}
