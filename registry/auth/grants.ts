// What an identity may do, and the intersection of that with what a token request asks for. The token spec
// says a partial (or empty) grant is not an error: the registry refuses later, with a challenge the client
// understands, so this module never fails a request.
//
// Access-token scopes (GitLab's names, plus one for administration):
//   read_registry   → `pull` on the token's repository patterns
//   write_registry  → `push` and `pull`: as GitLab, a token that may push may pull (Distribution's upload
//                     routes and `docker push` itself need pull), so write_registry alone is enough to push
//   delete_registry → `delete`
//   admin_registry  → pull, push and delete on the patterns, and the registry-wide resources
//                     `registry:catalog:*` (the catalog lists every repository) and `registry:maintenance:*`
//                     (Berth's /berth/v1/maintenance state); only this scope gets them, and it is meant for
//                     tokens whose pattern is `**`
// Anyone, anonymous or not, may pull repositories matching the configured `public` patterns.
import { isValidName } from '../names.ts';
import { compilePattern, matchesAny } from './patterns.ts';
import type { AccessEntry, ResourceScope } from './scope.ts';

export const registryScopes = [
  'read_registry',
  'write_registry',
  'delete_registry',
  'admin_registry',
] as const;
export type RegistryScope = (typeof registryScopes)[number];

export type RepositoryAction = 'pull' | 'push' | 'delete';
const allRepositoryActions: readonly RepositoryAction[] = ['pull', 'push', 'delete'];

/** Repository actions on names matching any of `patterns`. */
export interface GrantRule {
  patterns: RegExp[];
  actions: ReadonlySet<RepositoryAction>;
}

export interface Principal {
  kind: 'anonymous' | 'access-token' | 'service-account';
  /** The token's `sub`; absent for anonymous. */
  subject?: string;
  rules: GrantRule[];
  /**
   * Holds admin_registry: may use the registry-wide resources (`registry:catalog:*`,
   * `registry:maintenance:*`; see `adminRegistryResources`).
   */
  catalog: boolean;
}

/** The `registry:<name>:*` resources only admin_registry grants. */
export const adminRegistryResources: ReadonlySet<string> = new Set(['catalog', 'maintenance']);

export function actionsForScopes(scopes: readonly RegistryScope[]): Set<RepositoryAction> {
  const actions = new Set<RepositoryAction>();
  for (const scope of scopes) {
    if (scope === 'read_registry') actions.add('pull');
    if (scope === 'write_registry') actions.add('push').add('pull');
    if (scope === 'delete_registry') actions.add('delete');
    if (scope === 'admin_registry') for (const a of allRepositoryActions) actions.add(a);
  }
  return actions;
}

export function publicPullRule(patterns: readonly string[]): GrantRule {
  return { patterns: patterns.map(compilePattern), actions: new Set(['pull']) };
}

export const anonymous: Principal = { kind: 'anonymous', rules: [], catalog: false };

function allowedOn(name: string, rules: readonly GrantRule[]): Set<RepositoryAction> {
  const allowed = new Set<RepositoryAction>();
  for (const rule of rules) {
    if (matchesAny(rule.patterns, name)) for (const a of rule.actions) allowed.add(a);
  }
  return allowed;
}

/**
 * The access to put in the token: for each requested resource, the requested actions the principal (or the
 * public rule) allows. `*` is granted as `*` only when every repository action is allowed, otherwise as the
 * allowed ones. Unknown types, actions and invalid names are dropped; resources with nothing left are omitted.
 */
export function grantAccess(
  requested: readonly ResourceScope[],
  principal: Principal,
  publicRule: GrantRule,
): AccessEntry[] {
  const granted: AccessEntry[] = [];
  for (const scope of requested) {
    let actions: string[] = [];
    if (scope.type === 'repository' && isValidName(scope.name)) {
      const allowed = allowedOn(scope.name, [...principal.rules, publicRule]);
      for (const action of scope.actions) {
        if (action === '*') {
          if (allRepositoryActions.every((a) => allowed.has(a))) actions.push('*');
          else actions.push(...allowed);
        } else if (allowed.has(action as RepositoryAction)) {
          actions.push(action);
        }
      }
    } else if (scope.type === 'registry' && adminRegistryResources.has(scope.name) && principal.catalog) {
      actions = scope.actions.filter((a) => a === '*');
    }
    actions = [...new Set(actions)];
    if (actions.length === 0) continue;
    const entry: AccessEntry = { type: scope.type, name: scope.name, actions };
    if (scope.class !== undefined) entry.class = scope.class;
    granted.push(entry);
  }
  return granted;
}
