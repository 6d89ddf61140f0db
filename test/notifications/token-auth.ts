// Token auth for a notifying registry: a signing key pair in a temporary directory, the `auth.token` config
// that trusts it, and tokens signed with it the way the operator signs its own
// (operator/operations/registry-access.ts).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AccessRequest } from '../../registry/auth/types.ts';
import { generateSigningKeyPair } from '../../registry/auth/keypair.ts';
import { TokenSigner } from '../../registry/auth/token-signer.ts';

export { catalogAccess } from '../../operator/operations/registry-access.ts';

export interface TokenAuth {
  /** The registry config's `auth` section. */
  config: { token: { realm: string; service: string; issuer: string; rootcertbundle: string } };
  token(access: AccessRequest[]): Promise<string>;
  close(): Promise<void>;
}

export async function startTokenAuth(): Promise<TokenAuth> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-notify-auth-'));
  const pair = await generateSigningKeyPair();
  await writeFile(join(dir, 'token.crt'), pair.certificatePem);
  const signer = await TokenSigner.fromPem(pair.privateKeyPem, pair.certificatePem);
  const token = {
    realm: 'http://127.0.0.1:9/auth/token',
    service: 'registry.test',
    issuer: 'berth-test-issuer',
  };
  return {
    config: { token: { ...token, rootcertbundle: join(dir, 'token.crt') } },
    token: async (access) =>
      (
        await signer.signAccessToken({
          issuer: token.issuer,
          service: token.service,
          access,
          lifetimeSeconds: 300,
        })
      ).token,
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
