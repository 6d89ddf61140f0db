// The registry's config.yml, as a zod schema. It accepts CNCF Distribution's keys (v0.1 format) so an existing
// Distribution config works unchanged, and it produces a fully defaulted object so callers never handle
// `undefined` for a value that has a default.
//
// Design rules:
// - Every object is strict: an unknown key is an error that names the key path (typos must not be ignored).
// - Distribution features Berth does not implement are known keys that fail with "not supported by Berth",
//   so a migrating user gets a clear message instead of a silently ignored setting (e.g. `auth.htpasswd`
//   would otherwise leave the registry open).
// - The output is itself a valid input (durations stay Go duration strings), so the operator can render a
//   parsed config back to YAML. Use `parseDuration` to get milliseconds.
// - Cloud driver parameters (s3/gcs/azure) are only type-checked here; like Distribution, their defaults
//   belong to the drivers. Driver parameters accept the loose forms Distribution's drivers accept ("true",
//   "5242880" as strings), because they are an untyped map there.
import { z } from 'zod';
import { isS3StorageClass, S3_MIN_CHUNK_SIZE, S3_STORAGE_CLASSES } from '../storage/s3-params.ts';

// ---------------------------------------------------------------------------------------------------------
// Durations (Go's time.ParseDuration format)

const DURATION_UNITS_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3, // U+00B5 MICRO SIGN
  μs: 1e-3, // U+03BC GREEK SMALL LETTER MU
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const DURATION_COMPONENT = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/**
 * Parses a Go duration string ("168h", "500ms", "1h30m", "1.5s", "-2m", "0") into milliseconds.
 * Throws on anything Go's time.ParseDuration would reject (e.g. a missing unit: "10").
 */
export function parseDuration(s: string): number {
  let rest = s;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest.startsWith('-')) sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw new Error(`invalid duration ${JSON.stringify(s)}`);
  let total = 0;
  DURATION_COMPONENT.lastIndex = 0;
  while (DURATION_COMPONENT.lastIndex < rest.length) {
    const start = DURATION_COMPONENT.lastIndex;
    const m = DURATION_COMPONENT.exec(rest);
    if (m === null || m.index !== start) {
      throw new Error(
        `invalid duration ${JSON.stringify(s)}: expected numbers with units (ns, us, ms, s, m, h), e.g. "10s" or "1h30m"`,
      );
    }
    total += Number(m[1]) * (DURATION_UNITS_MS[m[2] ?? ''] ?? Number.NaN);
  }
  return sign * total;
}

function isDuration(v: unknown): boolean {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0;
  if (typeof v !== 'string') return false;
  try {
    return parseDuration(v) >= 0;
  } catch {
    return false;
  }
}

/**
 * A non-negative Go duration. Like Distribution (yaml.v2 into time.Duration), a bare integer means
 * nanoseconds; it is normalised to "<n>ns" so the output is always a string `parseDuration` accepts.
 */
export const durationSchema = z
  .custom<string | number>(isDuration, {
    error: 'expected a duration such as "10s", "500ms" or "1h30m"',
  })
  .transform((v) => (typeof v === 'number' ? `${v}ns` : v));

// ---------------------------------------------------------------------------------------------------------
// Helpers

/** A Distribution key Berth deliberately does not implement: present → a clear error. */
function unsupported(what: string, hint?: string) {
  return z
    .never({ error: `${what} is not supported by Berth${hint === undefined ? '' : `; ${hint}`}` })
    .optional();
}

// Go's strconv.ParseBool spellings: Distribution's drivers read their boolean parameters with it.
const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const GO_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** A driver parameter boolean: true/false, or the string forms Distribution's drivers accept. */
const boolParam = z
  .custom<boolean | string>(
    (v) => typeof v === 'boolean' || (typeof v === 'string' && (GO_TRUE.has(v) || GO_FALSE.has(v))),
    { error: 'expected a boolean' },
  )
  .transform((v) => (typeof v === 'boolean' ? v : GO_TRUE.has(v)));

/** A driver parameter integer: a number or a decimal string (Distribution's drivers accept both). */
function intParam(min: number, what = `an integer >= ${min}`) {
  return z
    .custom<number | string>(
      (v) =>
        (typeof v === 'number' && Number.isSafeInteger(v) && v >= min) ||
        (typeof v === 'string' && /^[-+]?\d+$/.test(v) && Number.parseInt(v, 10) >= min),
      { error: `expected ${what}` },
    )
    .transform((v) => (typeof v === 'number' ? v : Number.parseInt(v, 10)));
}

const nonEmpty = z.string().min(1);

function isHttpUrl(v: string): boolean {
  if (!URL.canParse(v)) return false;
  const { protocol } = new URL(v);
  return protocol === 'http:' || protocol === 'https:';
}
const httpUrl = z.string().refine(isHttpUrl, { error: 'expected an absolute http(s) URL' });

/** HTTP headers as Distribution writes them: each name maps to a list of values. */
const headersSchema = z.record(z.string().min(1), z.array(z.string()));

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
// Distribution lower-cases the level before checking it.
const logLevelSchema = z.string().toLowerCase().pipe(z.enum(LOG_LEVELS));

// ---------------------------------------------------------------------------------------------------------
// storage

const MiB = 1024 * 1024;

const filesystemSchema = z.strictObject({
  /** Relative paths are resolved against the process's working directory by `parseConfig`/`loadConfig`. */
  rootdirectory: nonEmpty.default('/var/lib/registry'),
  maxthreads: intParam(1).default(100),
});

const inmemorySchema = z.strictObject({});

/**
 * Two names for one boolean setting (Distribution's and GitLab's): either may be set, both only when they agree.
 * `opposite`: the second name means the negation of the first.
 */
function oneSetting(first: string, second: string, opposite = false) {
  return (params: Record<string, unknown>, ctx: z.RefinementCtx): void => {
    const a = params[first];
    const b = params[second];
    if (typeof a !== 'boolean' || typeof b !== 'boolean' || (opposite ? a !== b : a === b)) return;
    ctx.addIssue({
      code: 'custom',
      path: [second],
      message: `${String(b)} contradicts ${first}: ${String(a)} (${opposite ? 'its negation' : 'another name for it'}); set only one of them`,
    });
  };
}

const s3Params = z.strictObject({
  accesskey: z.string().optional(),
  secretkey: z.string().optional(),
  sessiontoken: z.string().optional(),
  region: nonEmpty,
  regionendpoint: z.string().optional(),
  forcepathstyle: boolParam.optional(),
  /** GitLab's name for forcepathstyle. */
  pathstyle: boolParam.optional(),
  accelerate: boolParam.optional(),
  bucket: nonEmpty,
  encrypt: boolParam.optional(),
  keyid: z.string().optional(),
  secure: boolParam.optional(),
  skipverify: boolParam.optional(),
  v4auth: boolParam.optional(),
  // S3 rejects multipart parts below 5 MiB.
  chunksize: intParam(S3_MIN_CHUNK_SIZE, 'an integer >= 5242880 (5 MiB)').optional(),
  multipartcopychunksize: intParam(5 * MiB, 'an integer >= 5242880 (5 MiB)').optional(),
  multipartcopymaxconcurrency: intParam(1).optional(),
  multipartcopythresholdsize: intParam(0).optional(),
  rootdirectory: z.string().optional(),
  storageclass: z
    .string()
    .refine(isS3StorageClass, { error: `expected one of ${S3_STORAGE_CLASSES.join(', ')}` })
    .optional(),
  useragent: z.string().optional(),
  usedualstack: boolParam.optional(),
  objectacl: z.string().optional(),
  loglevel: z.string().optional(),
  maxrequestspersecond: intParam(0).optional(),
});
const s3Schema = s3Params.superRefine(oneSetting('forcepathstyle', 'pathstyle'));

const gcsSchema = z.strictObject({
  bucket: nonEmpty,
  keyfile: z.string().optional(),
  /** An inline service-account key (its JSON fields, e.g. `private_key_id`). */
  credentials: z.record(z.string(), z.unknown()).optional(),
  rootdirectory: z.string().optional(),
  chunksize: intParam(256 * 1024)
    .refine((n) => n % (256 * 1024) === 0, { error: 'must be a multiple of 262144 (256 KiB)' })
    .optional(),
  disablekeepalives: boolParam.optional(),
});

const azureParams = z.strictObject({
  accountname: nonEmpty,
  accountkey: z.string().optional(),
  container: nonEmpty,
  realm: z.string().optional(),
  serviceurl: z.string().optional(),
  rootdirectory: z.string().optional(),
  credentials: z
    .strictObject({
      type: z.enum(['client_secret', 'shared_key', 'default_credentials']),
      clientid: z.string().optional(),
      tenantid: z.string().optional(),
      secret: z.string().optional(),
    })
    .optional(),
  // Distribution's azure parameter names contain underscores; env overrides still reach them.
  max_retries: intParam(0).optional(),
  retry_delay: durationSchema.optional(),
  copy_status_poll_max_retry: intParam(-1).optional(),
  copy_status_poll_delay: durationSchema.optional(),
  /**
   * GitLab's keys for containers written by Distribution 2.x, whose blob names begin with "/": false (or
   * legacyrootprefix: true) keeps that leading slash. Unset: no leading slash, as Distribution v3 and GitLab.
   */
  trimlegacyrootprefix: boolParam.optional(),
  legacyrootprefix: boolParam.optional(),
});
const azureSchema = azureParams.superRefine(oneSetting('trimlegacyrootprefix', 'legacyrootprefix', true));

export const STORAGE_DRIVERS = ['filesystem', 'inmemory', 's3', 'gcs', 'azure'] as const;
export type StorageDriverName = (typeof STORAGE_DRIVERS)[number];

const storageSchema = z
  .strictObject({
    filesystem: filesystemSchema.optional(),
    inmemory: inmemorySchema.optional(),
    s3: s3Schema.optional(),
    gcs: gcsSchema.optional(),
    azure: azureSchema.optional(),
    swift: unsupported('the swift storage driver', 'Distribution v3 removed it too'),
    oss: unsupported('the oss storage driver', 'Distribution v3 removed it too'),
    delete: z.strictObject({ enabled: z.boolean().default(false) }).prefault({}),
    redirect: z.strictObject({ disable: z.boolean().default(false) }).prefault({}),
    cache: z
      .strictObject({
        // Unset: no blob descriptor cache. Berth keeps the cache in process memory; `redis` is accepted for
        // compatibility and also served from memory.
        blobdescriptor: z.enum(['inmemory', 'redis']).optional(),
        blobdescriptorsize: z.int().min(0).default(10_000),
      })
      .prefault({}),
    maintenance: z
      .strictObject({
        uploadpurging: z
          .strictObject({
            enabled: z.boolean().default(true),
            age: durationSchema.default('168h'),
            interval: durationSchema.default('24h'),
            dryrun: z.boolean().default(false),
          })
          .prefault({}),
        readonly: z.strictObject({ enabled: z.boolean().default(false) }).prefault({}),
      })
      .prefault({}),
    // Distribution v3 puts the tag lookup concurrency here (`storage.tag`); 0 means "pick automatically".
    tag: z.strictObject({ concurrencylimit: z.int().min(0).default(0) }).prefault({}),
  })
  .superRefine((storage, ctx) => {
    const configured = STORAGE_DRIVERS.filter((name) => storage[name] !== undefined);
    if (configured.length === 0) {
      ctx.addIssue({
        code: 'custom',
        message: `no storage driver configured; configure exactly one of ${STORAGE_DRIVERS.join(', ')}`,
      });
    } else if (configured.length > 1) {
      ctx.addIssue({
        code: 'custom',
        message: `multiple storage drivers configured (${configured.join(', ')}); configure exactly one`,
      });
    }
  });

// ---------------------------------------------------------------------------------------------------------
// auth

export const SIGNING_ALGORITHMS = [
  'EdDSA',
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
] as const;

const tokenAuthSchema = z
  .strictObject({
    realm: nonEmpty,
    service: nonEmpty,
    issuer: nonEmpty,
    rootcertbundle: nonEmpty.optional(),
    jwks: nonEmpty.optional(),
    autoredirect: z.boolean().default(false),
    autoredirectpath: z.string().startsWith('/', { error: 'must start with "/"' }).default('/auth/token'),
    /** Unset: the verifier's default list (Distribution's, less what cannot verify with public keys). */
    signingalgorithms: z.array(z.enum(SIGNING_ALGORITHMS)).min(1).optional(),
  })
  .refine((t) => t.rootcertbundle !== undefined || t.jwks !== undefined, {
    error: 'one of rootcertbundle or jwks is required to verify tokens',
  });

const authSchema = z.strictObject({
  token: tokenAuthSchema.optional(),
  // Accepting these and not enforcing them would leave the registry open; htpasswd needs bcrypt.
  htpasswd: unsupported('htpasswd authentication', 'use auth.token'),
  silly: unsupported('silly authentication', 'use auth.token'),
});

// ---------------------------------------------------------------------------------------------------------
// http

const tlsSchema = z.strictObject({
  certificate: nonEmpty,
  key: nonEmpty,
  clientcas: z.array(nonEmpty).default([]),
  clientauth: z
    .enum([
      'request-client-cert',
      'require-any-client-cert',
      'verify-client-cert-if-given',
      'require-and-verify-client-cert',
    ])
    .default('require-and-verify-client-cert'),
  minimumtls: z.enum(['tls1.0', 'tls1.1', 'tls1.2', 'tls1.3']).default('tls1.2'),
  /** Unset: the runtime's default cipher suites. */
  ciphersuites: z.array(nonEmpty).optional(),
  letsencrypt: unsupported("Let's Encrypt", 'set certificate and key, or terminate TLS at the Ingress'),
});

const httpSchema = z.strictObject({
  addr: nonEmpty.default(':5000'),
  net: z.enum(['tcp', 'unix']).default('tcp'),
  /** Path prefix before /v2/, e.g. "/registry/". Unset: served at the root. */
  prefix: z.string().startsWith('/', { error: 'must start with "/"' }).optional(),
  /** Externally reachable base URL used for generated URLs. Unset: derived from each request. */
  host: httpUrl.optional(),
  /** Signs upload state. Must be the same on every replica; unset means a random per-process secret. */
  secret: nonEmpty.optional(),
  relativeurls: z.boolean().default(false),
  /** How long requests in flight may take on shutdown before they are cut. Unset: 10 s (serve.ts). */
  draintimeout: durationSchema.optional(),
  headers: headersSchema.default({}),
  tls: tlsSchema.optional(),
  debug: z
    .strictObject({
      /** Distribution's debug listener (debug-server.ts): /debug/health, and metrics when prometheus is enabled. */
      addr: z.string().regex(/^(?:\[[^\]]+\]|[^:]*):\d+$/, { error: 'expected host:port, e.g. ":5001"' }),
      prometheus: z
        .strictObject({
          enabled: z.boolean().default(false),
          path: z.string().startsWith('/', { error: 'must start with "/"' }).default('/metrics'),
        })
        .prefault({}),
    })
    .optional(),
  http2: z.strictObject({ disabled: z.boolean().default(false) }).prefault({}),
  h2c: unsupported('h2c (cleartext HTTP/2)'),
});

// ---------------------------------------------------------------------------------------------------------
// notifications, health, validation, catalog

const endpointSchema = z.strictObject({
  name: nonEmpty,
  url: httpUrl,
  headers: headersSchema.default({}),
  // Distribution's notification defaults when these are unset.
  timeout: durationSchema.default('1s'),
  threshold: z.int().min(0).default(10),
  /** GitLab's key: how often a failed event is retried before it is dropped; unset, until it is delivered. */
  maxretries: z.int().min(0).optional(),
  backoff: durationSchema.default('1s'),
  ignoredmediatypes: z.array(z.string()).default([]),
  ignore: z
    .strictObject({
      mediatypes: z.array(z.string()).default([]),
      actions: z.array(z.string()).default([]),
    })
    .prefault({}),
  disabled: z.boolean().default(false),
});

const notificationsSchema = z.strictObject({
  events: z.strictObject({ includereferences: z.boolean().default(false) }).prefault({}),
  endpoints: z
    .array(endpointSchema)
    .default([])
    .superRefine((endpoints, ctx) => {
      const seen = new Set<string>();
      endpoints.forEach((e, i) => {
        if (seen.has(e.name)) {
          ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate endpoint name "${e.name}"` });
        }
        seen.add(e.name);
      });
    }),
});

const healthSchema = z.strictObject({
  storagedriver: z
    .strictObject({
      enabled: z.boolean().default(false),
      interval: durationSchema.default('10s'),
      // Distribution: unset (or 0) means a single failure marks the registry unhealthy.
      threshold: z
        .int()
        .min(0)
        .default(1)
        .transform((n) => Math.max(n, 1)),
    })
    .prefault({}),
  file: unsupported('file health checks'),
  http: unsupported('HTTP health checks'),
  tcp: unsupported('TCP health checks'),
});

const validationSchema = z
  .strictObject({
    /** Deprecated by Distribution in favour of `disabled`; `enabled: true` forces validation on. */
    enabled: z.boolean().optional(),
    disabled: z.boolean().default(false),
    manifests: z
      .strictObject({
        urls: z
          .strictObject({
            // Go (RE2) regular expressions, kept as text. An empty allow list allows no foreign URLs.
            allow: z.array(z.string()).default([]),
            deny: z.array(z.string()).default([]),
          })
          .prefault({}),
        indexes: z
          .strictObject({
            platforms: z
              .string()
              .toLowerCase()
              .pipe(z.enum(['all', 'none', 'list']))
              .default('all'),
            platformlist: z.array(z.strictObject({ architecture: nonEmpty, os: nonEmpty })).default([]),
          })
          .prefault({}),
      })
      .prefault({}),
  })
  .prefault({})
  // Fold the deprecated flag into `disabled` the way Distribution does, so callers read one field.
  .transform(({ enabled, ...rest }) => (enabled === true ? { ...rest, disabled: false } : rest));

// ---------------------------------------------------------------------------------------------------------
// root

const versionSchema = z
  .custom<'0.1' | 0.1>((v) => v === '0.1' || v === 0.1, {
    error: (issue) =>
      issue.input === undefined ? 'required (use "0.1")' : 'unsupported version, expected "0.1"',
  })
  .transform(() => '0.1' as const);

export const registryConfigSchema = z
  .strictObject({
    version: versionSchema,
    /** Deprecated top-level form of `log.level` (used only when `log.level` is unset). */
    loglevel: logLevelSchema.optional(),
    log: z
      .strictObject({
        level: logLevelSchema.optional(),
        /** Unset: text when stdout is a terminal, pino JSON otherwise (registry/logger.ts). */
        formatter: z.enum(['text', 'json', 'logstash']).optional(),
        fields: z.record(z.string(), z.unknown()).default({}),
        accesslog: z.strictObject({ disabled: z.boolean().default(false) }).prefault({}),
        reportcaller: z.boolean().default(false),
        hooks: unsupported('log hooks'),
      })
      .prefault({}),
    storage: storageSchema,
    auth: authSchema.prefault({}),
    http: httpSchema.prefault({}),
    notifications: notificationsSchema.prefault({}),
    health: healthSchema.prefault({}),
    validation: validationSchema,
    catalog: z
      .strictObject({
        // As in Distribution, zero or negative means the default.
        maxentries: z
          .int()
          .default(1000)
          .transform((n) => (n > 0 ? n : 1000)),
      })
      .prefault({}),
    // Berth's own settings, under a key Distribution does not have (a Distribution config never sets it).
    berth: z
      .strictObject({
        usage: z
          .strictObject({
            /** Time between storage usage scans (GET /berth/v1/usage, berth_* metrics); 0 disables them. */
            interval: durationSchema.default('10m'),
          })
          .prefault({}),
      })
      .prefault({}),
    /** Accepted for compatibility with Distribution configs; Berth does not use Redis. */
    redis: z.record(z.string(), z.unknown()).optional(),
    middleware: unsupported('middleware'),
    reporting: unsupported('error reporting (bugsnag, newrelic)'),
    proxy: unsupported('pull-through cache (proxy)'),
    compatibility: unsupported('compatibility (schema1)', 'schema1 manifests are refused'),
    policy: unsupported('repository class policy'),
  })
  .transform(({ loglevel, ...config }) => ({
    ...config,
    log: { ...config.log, level: config.log.level ?? loglevel ?? ('info' as LogLevel) },
  }));

/** The validated, fully defaulted registry configuration. */
export type RegistryConfig = z.infer<typeof registryConfigSchema>;
/** What a config.yml may contain (for the operator when it renders configs). */
export type RegistryConfigInput = z.input<typeof registryConfigSchema>;

type StorageConfig = RegistryConfig['storage'];
export type StorageDriverConfig = {
  [K in StorageDriverName]: { name: K; params: NonNullable<StorageConfig[K]> };
}[StorageDriverName];

/** The one configured storage driver and its parameters (the schema guarantees exactly one). */
export function storageDriverOf(storage: StorageConfig): StorageDriverConfig {
  for (const name of STORAGE_DRIVERS) {
    const params = storage[name];
    if (params !== undefined) return { name, params } as StorageDriverConfig;
  }
  throw new Error('no storage driver configured');
}
