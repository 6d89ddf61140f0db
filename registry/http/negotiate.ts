// Manifest content negotiation the way Distribution v3 does it: an OCI manifest or index is only served to a
// client that accepts its media type, and a Docker manifest list requested by tag from a client that cannot
// read lists is replaced by its linux/amd64 image. Berth differs in one place: a request with no Accept header
// (or `*/*`) gets the manifest as stored, which is what generic HTTP tools expect.
import { mediaTypes } from '../manifest.ts';

export interface AcceptedTypes {
  any: boolean;
  types: Set<string>;
}

export function parseAccept(headers: string | string[] | undefined): AcceptedTypes {
  const values = headers === undefined ? [] : Array.isArray(headers) ? headers : [headers];
  const types = new Set<string>();
  for (const value of values) {
    for (const part of value.split(',')) {
      const type = (part.split(';')[0] ?? '').trim().toLowerCase();
      if (type) types.add(type);
    }
  }
  return { any: types.size === 0 || types.has('*/*'), types };
}

export type Negotiation = 'serve' | 'not-acceptable' | 'default-platform';

export function negotiate(mediaType: string, accepted: AcceptedTypes, byTag: boolean): Negotiation {
  if (accepted.any || accepted.types.has(mediaType)) return 'serve';
  switch (mediaType) {
    case mediaTypes.ociManifest:
    case mediaTypes.ociIndex:
      return 'not-acceptable';
    case mediaTypes.dockerManifestList:
      return byTag ? 'default-platform' : 'serve';
    default:
      return 'serve';
  }
}
