// The access-token file: the token issuer's list of scoped credentials. Only scrypt hashes of the secrets are
// stored. The issuer re-reads the file when its content changes (the operator will fill it from Kubernetes
// Secrets); a file that fails to parse is logged and ignored, and the previous tokens stay in force.
//
// Format (YAML, or JSON since JSON is YAML):
//
//   version: 1
//   tokens:
//     - name: ci-bot                      # the username for `docker login`; [A-Za-z0-9][A-Za-z0-9._@-]{0,127},
//                                         # unique; `serviceaccount` is reserved for Kubernetes ServiceAccounts
//       secretHash: "$scrypt$ln=15,r=8,p=1$<salt>$<hash>"   # `berth-registry access-token create` writes it
//       scopes: [read_registry, write_registry]             # read_registry | write_registry | delete_registry
//                                                           # | admin_registry (see grants.ts)
//       repositories: ["team/**", "base/*"]                 # patterns (see patterns.ts)
//       expiresAt: "2026-12-31T00:00:00Z"                   # optional, RFC 3339; refused from then on
//       description: "CI pipeline of team"                  # optional, free text
//       createdAt: "2026-01-01T00:00:00.000Z"               # optional, written by the CLI
//
// Never log this file's content: parse errors report the entry and field only.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { dump, load } from 'js-yaml';
import { z } from 'zod';
import { watchFiles, type FileWatcher } from './file-watch.ts';
import { actionsForScopes, registryScopes, type Principal, type RegistryScope } from './grants.ts';
import { silentLogger, type AuthLogger } from './logger.ts';
import { compilePattern, repositoryPatternSchema } from './patterns.ts';
import { decoyVerify, generateSecret, hashSecret, isSecretHash, verifySecret } from './secret-hash.ts';
import { TtlCache } from './ttl-cache.ts';

/** Basic-auth usernames cannot hold `:`; this set also keeps names readable in logs and token `sub` claims. */
export const accessTokenNamePattern = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;
export const reservedNames: ReadonlySet<string> = new Set(['serviceaccount', 'anonymous']);

const timestampSchema = z.union([z.date(), z.iso.datetime({ offset: true })]).transform((v) => new Date(v));

export const accessTokenEntrySchema = z.strictObject({
  name: z
    .string()
    .regex(accessTokenNamePattern, 'names are 1-128 of A-Z a-z 0-9 . _ @ - and start with a letter or digit')
    .refine((n) => !reservedNames.has(n), 'this name is reserved'),
  secretHash: z.string().refine(isSecretHash, 'not a `$scrypt$ln=..,r=..,p=..$salt$hash` string'),
  scopes: z.array(z.enum(registryScopes)).min(1),
  repositories: z.array(repositoryPatternSchema).min(1),
  expiresAt: timestampSchema.optional(),
  description: z.string().max(512).optional(),
  createdAt: timestampSchema.optional(),
});
export type AccessTokenEntry = z.input<typeof accessTokenEntrySchema>;

export const accessTokenFileSchema = z
  .strictObject({
    version: z.literal(1),
    tokens: z.array(accessTokenEntrySchema).default([]),
  })
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    for (const [i, token] of file.tokens.entries()) {
      if (seen.has(token.name)) {
        ctx.addIssue({ code: 'custom', path: ['tokens', i, 'name'], message: 'duplicate name' });
      }
      seen.add(token.name);
    }
  });
export type AccessTokenFile = z.output<typeof accessTokenFileSchema>;

/** One token as the issuer uses it. */
export interface AccessTokenRecord {
  name: string;
  scopes: RegistryScope[];
  repositories: string[];
  expiresAt?: Date;
  /** Changes whenever the secret does: binds refresh tokens to the secret they were issued for. */
  fingerprint: string;
  principal: Principal;
  secretHash: string;
}

const header = `# Berth access tokens. Written by \`berth-registry access-token create\`; only scrypt hashes of the
# secrets are stored. Format: see registry/auth/access-tokens.ts.
`;

/** Validation messages name the entry and field, never the value (which may be a hash). */
function describeIssues(path: string, error: z.ZodError): string {
  const lines = error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  return `access-token file ${path} is invalid:\n${lines.join('\n')}`;
}

/** Reads and validates the file. A missing file is an empty one. */
export async function readAccessTokenFile(path: string): Promise<AccessTokenFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, tokens: [] };
    throw err;
  }
  let raw: unknown;
  try {
    raw = text.trim() === '' ? { version: 1 } : load(text);
  } catch (err) {
    // YAML errors quote the offending source line, which may hold a hash: report the position only.
    const mark = (err as { mark?: { line?: number; column?: number } }).mark;
    const where = mark ? ` at line ${(mark.line ?? 0) + 1}, column ${(mark.column ?? 0) + 1}` : '';
    // eslint-disable-next-line preserve-caught-error -- the cause's message quotes the file (hashes) verbatim
    throw new Error(`access-token file ${path} is not valid YAML${where}`);
  }
  const parsed = accessTokenFileSchema.safeParse(raw);
  if (!parsed.success) throw new Error(describeIssues(path, parsed.error));
  return parsed.data;
}

/** Writes atomically (temp file + rename) with owner-only permissions. */
export async function writeAccessTokenFile(path: string, file: AccessTokenFile): Promise<void> {
  const plain = {
    version: file.version,
    tokens: file.tokens.map((t) => ({
      ...t,
      ...(t.expiresAt ? { expiresAt: t.expiresAt.toISOString() } : {}),
      ...(t.createdAt ? { createdAt: t.createdAt.toISOString() } : {}),
    })),
  };
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, header + dump(plain), { mode: 0o600 });
  await rename(tmp, path);
}

export interface NewAccessToken {
  name: string;
  scopes: RegistryScope[];
  repositories: string[];
  expiresAt?: Date;
  description?: string;
}

/** Adds a token with a fresh secret and returns the secret: the only time it exists outside the client. */
export async function addAccessToken(path: string, token: NewAccessToken): Promise<string> {
  const file = await readAccessTokenFile(path);
  if (file.tokens.some((t) => t.name === token.name)) {
    throw new Error(`access token ${token.name} already exists in ${path}`);
  }
  const secret = generateSecret();
  const parsed = accessTokenEntrySchema.safeParse({
    ...token,
    secretHash: await hashSecret(secret),
    createdAt: new Date(),
  });
  if (!parsed.success) {
    throw new Error(describeIssues(path, parsed.error).replace(' is invalid', ': new token invalid'));
  }
  file.tokens.push(parsed.data);
  await writeAccessTokenFile(path, file);
  return secret;
}

/** Removes the token named `name`; false when there was none. Its refresh tokens stop working too. */
export async function removeAccessToken(path: string, name: string): Promise<boolean> {
  const file = await readAccessTokenFile(path);
  const kept = file.tokens.filter((t) => t.name !== name);
  if (kept.length === file.tokens.length) return false;
  await writeAccessTokenFile(path, { ...file, tokens: kept });
  return true;
}

function toRecord(entry: AccessTokenFile['tokens'][number]): AccessTokenRecord {
  const record: AccessTokenRecord = {
    name: entry.name,
    scopes: entry.scopes,
    repositories: entry.repositories,
    fingerprint: createHash('sha256').update(entry.secretHash).digest('base64url').slice(0, 22),
    principal: {
      kind: 'access-token',
      subject: entry.name,
      rules: [{ patterns: entry.repositories.map(compilePattern), actions: actionsForScopes(entry.scopes) }],
      catalog: entry.scopes.includes('admin_registry'),
    },
    secretHash: entry.secretHash,
  };
  if (entry.expiresAt) record.expiresAt = entry.expiresAt;
  return record;
}

export interface AccessTokenStoreOptions {
  logger?: AuthLogger;
  /** Poll interval for changes; 0 turns watching off. Default 5 s. */
  watchIntervalMs?: number;
  clock?: () => Date;
}

/** The tokens in force, reloaded when the file changes. */
export class AccessTokenStore {
  readonly #path: string;
  readonly #log: AuthLogger;
  readonly #clock: () => Date;
  #tokens = new Map<string, AccessTokenRecord>();
  #watcher: FileWatcher | undefined;
  // Successful checks for a minute, so clients that send Basic credentials on every token request do not pay
  // scrypt each time. Keyed by an HMAC under a per-process key: nothing in memory reveals a secret.
  readonly #verified = new TtlCache<string>(1024);
  readonly #cacheKey = randomBytes(32);

  private constructor(path: string, options: AccessTokenStoreOptions) {
    this.#path = path;
    this.#log = options.logger ?? silentLogger;
    this.#clock = options.clock ?? (() => new Date());
  }

  static async open(path: string, options: AccessTokenStoreOptions = {}): Promise<AccessTokenStore> {
    const store = new AccessTokenStore(path, options);
    await store.reload();
    const interval = options.watchIntervalMs ?? 5000;
    if (interval > 0) {
      store.#watcher = await watchFiles(
        [path],
        interval,
        () => store.reload(),
        (err) =>
          store.#log.error(
            { file: path, reason: (err as Error).message },
            'access-token file not reloaded; the previous tokens stay in force',
          ),
      );
    }
    return store;
  }

  async reload(): Promise<void> {
    const file = await readAccessTokenFile(this.#path);
    this.#tokens = new Map(file.tokens.map((t) => [t.name, toRecord(t)]));
    this.#verified.clear();
    this.#log.info({ file: this.#path, tokens: this.#tokens.size }, 'access tokens loaded');
  }

  get size(): number {
    return this.#tokens.size;
  }

  has(name: string): boolean {
    return this.#tokens.has(name);
  }

  /** The live, unexpired record for `name` (refresh tokens re-check it on every use). */
  lookup(name: string): AccessTokenRecord | undefined {
    const record = this.#tokens.get(name);
    if (!record) return undefined;
    if (record.expiresAt && record.expiresAt <= this.#clock()) return undefined;
    return record;
  }

  /**
   * The record when `secret` is the token's secret; `'expired'` when it is but the token has expired (telling
   * that to someone who holds the secret reveals nothing); undefined otherwise.
   */
  async authenticate(name: string, secret: string): Promise<AccessTokenRecord | 'expired' | undefined> {
    const record = this.#tokens.get(name);
    if (!record) {
      await decoyVerify(secret);
      return undefined;
    }
    const cacheKey = createHmac('sha256', this.#cacheKey)
      .update(name)
      .update('\0')
      .update(secret)
      .digest('base64');
    let ok = this.#verified.get(cacheKey) === record.fingerprint;
    if (!ok) {
      ok = await verifySecret(secret, record.secretHash);
      if (ok) this.#verified.set(cacheKey, record.fingerprint, Date.now() + 60_000);
    }
    if (!ok) return undefined;
    return this.lookup(name) ?? 'expired';
  }

  close(): void {
    this.#watcher?.close();
    this.#verified.clear();
  }
}
