// Repository names and tags, per the OCI Distribution Spec grammar. The name grammar also guarantees a name can
// never escape the storage root (no `..`, no empty or leading/trailing separators).
import { RegistryError } from './errors.ts';

const namePattern = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const tagPattern = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** Distribution limits the whole name to 255 characters (the hostname counts in a reference; we have none). */
export const maxNameLength = 255;

export function isValidName(name: string): boolean {
  return name.length <= maxNameLength && namePattern.test(name);
}

export function checkName(name: string): void {
  if (!isValidName(name)) {
    throw new RegistryError('NAME_INVALID', 'invalid repository name', { detail: { name } });
  }
}

export function isValidTag(tag: string): boolean {
  return tagPattern.test(tag);
}

export function checkTag(tag: string): void {
  if (!isValidTag(tag)) {
    throw new RegistryError('TAG_INVALID', 'invalid tag', { detail: { tag } });
  }
}
