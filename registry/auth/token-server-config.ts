// Configuration of `berth-registry token-server CONFIG` (YAML). Unknown keys fail start-up naming the key.
// File paths are relative to the config file. Durations are seconds, or strings like `300s`, `5m`, `12h`, `30d`.
//
//   addr: ":5001"                      # listen address, [host]:port
//   realmPath: /auth/token             # path of the token endpoint (the realm's path)
//   issuer: berth-token-issuer         # `iss`; the registry's auth.token.issuer
//   service: berth-registry            # `aud`; the registry's auth.token.service
//   signingKey: token.key              # PEM private key (ES256/ES384/RS256... by key type)
//   certificate: token.crt             # its certificate (+ intermediates): the x5c; goes into rootcertbundle
//   algorithm: ES256                   # optional override
//   lifetime: 5m                       # access-token lifetime, 60 s .. 24 h, default 300 s
//   refreshTokenLifetime: 30d          # optional; default: as long as the credential is valid
//   accessTokenFile: tokens.yml        # optional; see access-tokens.ts
//   public: ["library/**"]             # repositories anyone may pull
//   rateLimit: { maxFailures: 10, window: 5m, maxClients: 10000 }   # per username and address (rate-limit.ts)
//   trustProxy: false                  # fastify trustProxy: true, a hop count, or CIDRs of the ingress
//   tls: { certificate: tls.crt, key: tls.key }      # optional; usually the Ingress terminates TLS
//   kubernetes:                        # optional ServiceAccount logins (see service-account.ts)
//     apiServer: https://kubernetes.default.svc
//     tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token
//     caFile: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt
//     audiences: [berth]
//     namespaces: [team-a, team-b]
//   reloadInterval: 5s                 # how often key, certificate and access-token file are checked
//   log: { level: info, formatter: text }   # formatter: text | json | logstash; unset: text on a terminal, else json
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { load } from 'js-yaml';
import { z } from 'zod';
import { repositoryPatternSchema } from './patterns.ts';
import { signingAlgorithms } from './token-signer.ts';

const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Seconds, from a number or a `<n><s|m|h|d>` string. */
export const durationSchema = z.union([
  z.number().nonnegative(),
  z
    .string()
    .regex(/^\d+(\.\d+)?[smhd]$/, 'a duration like 300s, 5m, 12h or 30d')
    .transform((s) => Number(s.slice(0, -1)) * (units[s.slice(-1)] ?? 1)),
]);

const path = z.string().min(1);

export const tokenServerConfigSchema = z.strictObject({
  addr: z.string().default(':5001'),
  realmPath: z.string().startsWith('/').default('/auth/token'),
  issuer: z.string().min(1),
  service: z.string().min(1),
  signingKey: path,
  certificate: path,
  algorithm: z.enum(signingAlgorithms).optional(),
  lifetime: durationSchema
    .refine((s) => s >= 60 && s <= 86400, 'between 60 s (the spec minimum) and 24 h')
    .default(300),
  refreshTokenLifetime: durationSchema.refine((s) => s >= 60, 'at least 60 s').optional(),
  accessTokenFile: path.optional(),
  public: z.array(repositoryPatternSchema).default([]),
  rateLimit: z
    .strictObject({
      maxFailures: z.number().int().min(1).default(10),
      window: durationSchema.refine((s) => s > 0, 'positive').default(300),
      maxClients: z.number().int().min(1).default(10_000),
    })
    .prefault({}),
  trustProxy: z.union([z.boolean(), z.number().int().min(0), z.string(), z.array(z.string())]).default(false),
  tls: z.strictObject({ certificate: path, key: path }).optional(),
  kubernetes: z
    .strictObject({
      apiServer: z.url(),
      tokenFile: path.default('/var/run/secrets/kubernetes.io/serviceaccount/token'),
      caFile: path.optional(),
      audiences: z.array(z.string().min(1)).min(1).optional(),
      namespaces: z.array(z.string().min(1)).optional(),
      cacheSeconds: durationSchema.default(30),
    })
    .optional(),
  reloadInterval: durationSchema.refine((s) => s >= 0, 'not negative').default(5),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      formatter: z.enum(['text', 'json', 'logstash']).optional(),
    })
    .prefault({}),
});

export type TokenServerConfig = z.output<typeof tokenServerConfigSchema>;
export type TokenServerConfigInput = z.input<typeof tokenServerConfigSchema>;

/** `path: message` lines, naming unknown keys (zod's unrecognized_keys issue lists them). */
export function formatConfigError(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const where = issue.path.join('.') || '(root)';
      const keys = issue.code === 'unrecognized_keys' ? `: ${issue.keys.join(', ')}` : '';
      return `${where}: ${issue.message}${keys}`;
    })
    .join('\n');
}

export function parseTokenServerConfig(raw: unknown, baseDir = process.cwd()): TokenServerConfig {
  const parsed = tokenServerConfigSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`invalid token-server config:\n${formatConfigError(parsed.error)}`);
  const config = parsed.data;
  const abs = (p: string) => resolve(baseDir, p);
  config.signingKey = abs(config.signingKey);
  config.certificate = abs(config.certificate);
  if (config.accessTokenFile) config.accessTokenFile = abs(config.accessTokenFile);
  if (config.tls) config.tls = { certificate: abs(config.tls.certificate), key: abs(config.tls.key) };
  if (config.kubernetes) {
    config.kubernetes.tokenFile = abs(config.kubernetes.tokenFile);
    if (config.kubernetes.caFile) config.kubernetes.caFile = abs(config.kubernetes.caFile);
  }
  return config;
}

export async function loadTokenServerConfig(file: string): Promise<TokenServerConfig> {
  let raw: unknown;
  try {
    raw = load(await readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read token-server config ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseTokenServerConfig(raw, dirname(resolve(file)));
}

/** `[host]:port` → listen options; an empty host listens on every interface. */
export function parseListenAddress(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new Error(`addr ${JSON.stringify(addr)} is not [host]:port`);
  return { host: m[1] ?? (m[2] || '::'), port };
}
