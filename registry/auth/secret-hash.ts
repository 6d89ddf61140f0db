// Access-token secrets: generated with 256 bits of randomness, stored only as a scrypt hash in a PHC-style
// string that carries its own parameters and salt (`$scrypt$ln=15,r=8,p=1$<salt>$<hash>`, unpadded standard
// base64), so the cost can be raised later without invalidating existing entries. Compared in constant time.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const secretPrefix = 'bth_';
const defaultCost = { ln: 15, r: 8, p: 1 };
const keyLength = 32;
const hashPattern =
  /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{43})$/;

export const secretHashPattern = hashPattern;

function derive(secret: string, salt: Buffer, cost: { ln: number; r: number; p: number }): Promise<Buffer> {
  const N = 2 ** cost.ln;
  // scrypt needs 128·N·r bytes; node's default 32 MiB cap is exactly ln=15,r=8, so give headroom.
  const options: ScryptOptions = { N, r: cost.r, p: cost.p, maxmem: 256 * N * cost.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(secret.normalize('NFC'), salt, keyLength, options, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

const b64 = (buf: Buffer) => buf.toString('base64').replace(/=+$/, '');

/** A new random secret. The prefix lets secret scanners recognise leaked Berth tokens. */
export function generateSecret(): string {
  return secretPrefix + randomBytes(32).toString('base64url');
}

export async function hashSecret(secret: string, cost = defaultCost): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(secret, salt, cost);
  return `$scrypt$ln=${cost.ln},r=${cost.r},p=${cost.p}$${b64(salt)}$${b64(key)}`;
}

export function isSecretHash(value: string): boolean {
  const m = hashPattern.exec(value);
  if (!m) return false;
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return ln >= 10 && ln <= 22 && r >= 1 && r <= 32 && p >= 1 && p <= 16;
}

/** Constant-time check of `secret` against a stored hash; false (never a throw) for a malformed hash. */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const m = hashPattern.exec(stored);
  if (!m || !isSecretHash(stored)) return false;
  const expected = Buffer.from(m[5] ?? '', 'base64');
  const key = await derive(secret, Buffer.from(m[4] ?? '', 'base64'), {
    ln: Number(m[1]),
    r: Number(m[2]),
    p: Number(m[3]),
  });
  return expected.length === key.length && timingSafeEqual(expected, key);
}

/** A hash of a random secret, verified against when the name is unknown so timing does not reveal names. */
let decoyHash: Promise<string> | undefined;
export function decoyVerify(secret: string): Promise<boolean> {
  decoyHash ??= hashSecret(generateSecret());
  return decoyHash.then((hash) => verifySecret(secret, hash)).then(() => false);
}
