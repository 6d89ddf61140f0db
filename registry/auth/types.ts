// The contract between the HTTP layer and authentication. Each route says which access it needs; the
// authorizer decides from the request's Authorization header. Without `auth` in the config, the registry uses
// `openAccess` and every request is allowed.

export type Action = 'pull' | 'push' | 'delete' | '*';

/** One resource and the actions needed on it, as in the token spec's `scope` (`repository:foo/bar:pull,push`). */
export interface AccessRequest {
  type: 'repository' | 'registry';
  /** Repository name, or `catalog` for `registry:catalog:*`. */
  name: string;
  actions: Action[];
}

export interface AuthContext {
  /** The authenticated subject (`sub` claim), or undefined for open access. */
  subject?: string;
  /** True when the context grants every action in the request (used for optional checks like mount `from`). */
  allows(access: AccessRequest): boolean;
}

/** What the authorizer may need from the request besides the Authorization header. */
export interface AuthRequestInfo {
  /** The `Host` header: with `autoredirect`, the challenge's realm points back at this host. */
  host?: string;
  /** The first `X-Forwarded-Proto` value, when a proxy sets it (the autoredirect realm's scheme). */
  forwardedProto?: string;
}

export interface Authorizer {
  /**
   * Resolves with the caller's context when every access is granted. Otherwise throws a RegistryError:
   * UNAUTHORIZED (401) with a `WWW-Authenticate: Bearer realm=..,service=..,scope=..[,error=..]` header in
   * `headers` and the needed access in `detail`.
   * An empty access list means "any valid credential" (used by `GET /v2/`).
   */
  authorize(
    authorization: string | undefined,
    access: AccessRequest[],
    request?: AuthRequestInfo,
  ): Promise<AuthContext>;
  /**
   * Re-reads key material (token auth: rootcertbundle and jwks) so keys rotate on a config reload without a
   * restart. Resolves once the new keys are in force; rejects, keeping the old ones, when they cannot be loaded.
   */
  reload?(): Promise<void>;
  /** Stops file watchers etc. */
  close(): Promise<void>;
}

export const openAccess: Authorizer = {
  authorize: () => Promise.resolve({ allows: () => true }),
  close: () => Promise.resolve(),
};
