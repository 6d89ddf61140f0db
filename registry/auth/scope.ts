// Scopes as the Docker token spec writes them (`repository:team/app:pull,push`) and the `access` claim entries
// tokens carry. (Which access a route needs is the HTTP layer's: registry/http/access.ts.)
import { z } from 'zod';
import type { AccessRequest } from './types.ts';

/** One requested resource scope. `class` is the optional `repository(plugin)` resource class. */
export interface ResourceScope {
  type: string;
  class?: string;
  name: string;
  actions: string[];
}

/** One entry of a token's `access` claim (Distribution's ResourceActions). */
export const accessEntrySchema = z.object({
  type: z.string(),
  class: z.string().optional(),
  name: z.string(),
  actions: z.array(z.string()),
});
export type AccessEntry = z.infer<typeof accessEntrySchema>;

const resourceTypePattern = /^([a-z0-9]+)(?:\(([a-z0-9]+)\))?$/;
const actionPattern = /^[a-z]*$|^\*$/;

/**
 * Parses one `type[(class)]:name:action[,action]*`. The name may itself hold colons (a `host:port/` prefix), so
 * the type ends at the first colon and the actions start after the last one. Returns undefined when malformed.
 */
export function parseScope(scope: string): ResourceScope | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  const typeMatch = resourceTypePattern.exec(scope.slice(0, first));
  const name = scope.slice(first + 1, last);
  if (!typeMatch || name === '') return undefined;
  const actions = scope
    .slice(last + 1)
    .split(',')
    .filter((a) => a !== '');
  if (!actions.every((a) => actionPattern.test(a))) return undefined;
  const parsed: ResourceScope = { type: typeMatch[1] ?? '', name, actions };
  if (typeMatch[2] !== undefined) parsed.class = typeMatch[2];
  return parsed;
}

/**
 * Parses every `scope` value of a request (GET repeats the parameter, the OAuth2 POST joins scopes with spaces;
 * some clients do both). Malformed entries are dropped: a token server never fails a request for them.
 */
export function parseScopes(values: readonly string[]): ResourceScope[] {
  const scopes: ResourceScope[] = [];
  for (const value of values) {
    for (const part of value.split(/\s+/)) {
      if (part === '') continue;
      const scope = parseScope(part);
      if (scope) scopes.push(scope);
    }
  }
  return mergeScopes(scopes);
}

/** Merges entries for the same resource, keeping first-seen order (deterministic challenges and tokens). */
export function mergeScopes<T extends ResourceScope>(scopes: readonly T[]): T[] {
  const byKey = new Map<string, T>();
  for (const scope of scopes) {
    const key = `${scope.type}(${scope.class ?? ''}):${scope.name}`;
    const existing = byKey.get(key);
    if (existing) {
      for (const action of scope.actions)
        if (!existing.actions.includes(action)) existing.actions.push(action);
    } else {
      byKey.set(key, { ...scope, actions: [...new Set(scope.actions)] });
    }
  }
  return [...byKey.values()];
}

export function formatScope(scope: ResourceScope): string {
  const type = scope.class ? `${scope.type}(${scope.class})` : scope.type;
  return `${type}:${scope.name}:${scope.actions.join(',')}`;
}

/** The space-separated scope list used in challenges and in the OAuth2 response's `scope` field. */
export function formatScopes(scopes: readonly ResourceScope[]): string {
  return mergeScopes(scopes.map((s) => ({ ...s, actions: [...s.actions] })))
    .filter((s) => s.actions.length > 0)
    .map(formatScope)
    .join(' ');
}

/** Resources and the actions a verified token grants, with `*` meaning every action (as Distribution). */
export class AccessSet {
  readonly #actions = new Map<string, Set<string>>();

  constructor(entries: readonly AccessEntry[]) {
    for (const entry of entries) {
      const key = `${entry.type}:${entry.name}`;
      let set = this.#actions.get(key);
      if (!set) {
        set = new Set();
        this.#actions.set(key, set);
      }
      for (const action of entry.actions) set.add(action);
    }
  }

  allows(access: AccessRequest): boolean {
    const set = this.#actions.get(`${access.type}:${access.name}`);
    if (!set) return access.actions.length === 0;
    return set.has('*') || access.actions.every((action) => set.has(action));
  }
}
