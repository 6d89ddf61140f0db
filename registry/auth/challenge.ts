// The Bearer challenge (RFC 6750 §3) and the 401 the registry answers with when a request lacks a good token.
// Distribution answers 401 UNAUTHORIZED for every token failure, insufficient scope included: Docker turns
// `error="insufficient_scope"` into its "denied: requested access to the resource is denied" message.
import { RegistryError } from '../errors.ts';
import { formatScopes } from './scope.ts';
import type { AccessRequest } from './types.ts';

export type ChallengeError = 'invalid_token' | 'insufficient_scope';

export interface ChallengeParams {
  realm: string;
  service: string;
  access: readonly AccessRequest[];
  error?: ChallengeError;
}

/** Quoted-string per RFC 9110: backslash-escape quotes and backslashes. */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export function buildChallenge({ realm, service, access, error }: ChallengeParams): string {
  let header = `Bearer realm=${quote(realm)},service=${quote(service)}`;
  const scope = formatScopes(access.map((a) => ({ type: a.type, name: a.name, actions: [...a.actions] })));
  if (scope !== '') header += `,scope=${quote(scope)}`;
  if (error) header += `,error=${quote(error)}`;
  return header;
}

/** The error body's `detail`: one record per needed action, shaped like Distribution's `auth.Access`. */
export function accessDetail(
  access: readonly AccessRequest[],
): { Type: string; Name: string; Action: string }[] {
  return access.flatMap((a) => a.actions.map((action) => ({ Type: a.type, Name: a.name, Action: action })));
}

export function unauthorized(params: ChallengeParams): RegistryError {
  const detail = params.access.length > 0 ? accessDetail(params.access) : undefined;
  return new RegistryError('UNAUTHORIZED', undefined, {
    headers: { 'WWW-Authenticate': buildChallenge(params) },
    detail,
  });
}
