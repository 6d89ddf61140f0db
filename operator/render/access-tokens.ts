// Access tokens for a registry's token issuer come from Secrets the user labels (spec.auth.accessTokensFrom).
// Each data key of such a Secret holds an access-token file (`berth-registry access-token create --file ...`
// writes one; only scrypt hashes of the secrets are in it). The issuer reads a single file, so the operator
// merges them into one Secret that is mounted into the issuer; the issuer notices the new content and reloads
// it without a restart. A file that does not parse is left out (and reported, naming the Secret and key, never
// the content); a token name that appears twice keeps its first occurrence (Secrets in name order).
import { dump, load } from 'js-yaml';
import { accessTokenFileSchema } from '../../registry/auth/access-tokens.ts';
import { canonicalJson } from '../runtime/hash.ts';

export interface SecretWithData {
  metadata: { name: string };
  data?: Record<string, string>;
}

export interface MergedAccessTokens {
  /** The merged access-token file (YAML). */
  file: string;
  /** Token names, in file order. */
  names: string[];
  /** `<secret>/<key>` of every file that was merged. */
  sources: string[];
  /** Readable problems (bad files, duplicate names). */
  problems: string[];
}

export function mergeAccessTokens(secrets: readonly SecretWithData[]): MergedAccessTokens {
  const tokens: unknown[] = [];
  const names: string[] = [];
  const sources: string[] = [];
  const problems: string[] = [];
  const sorted = [...secrets].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  for (const secret of sorted) {
    for (const key of Object.keys(secret.data ?? {}).sort()) {
      const where = `${secret.metadata.name}/${key}`;
      let raw: unknown;
      try {
        raw = load(Buffer.from(secret.data?.[key] ?? '', 'base64').toString('utf8'));
      } catch {
        problems.push(`${where}: not YAML`);
        continue;
      }
      const parsed = accessTokenFileSchema.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        problems.push(
          `${where}: not an access-token file (${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'})`,
        );
        continue;
      }
      sources.push(where);
      const entries = (raw as { tokens?: unknown[] }).tokens ?? [];
      for (const [i, entry] of entries.entries()) {
        const name = parsed.data.tokens[i]?.name ?? '';
        if (names.includes(name)) {
          problems.push(`${where}: token "${name}" is already defined by an earlier Secret; ignored`);
          continue;
        }
        names.push(name);
        tokens.push(JSON.parse(canonicalJson(entry)) as unknown);
      }
    }
  }
  const file = `# Merged by berth-operator from: ${sources.join(', ') || '(no Secrets)'}\n${dump(
    { version: 1, tokens },
    { sortKeys: true, lineWidth: -1 },
  )}`;
  return { file, names, sources, problems };
}
