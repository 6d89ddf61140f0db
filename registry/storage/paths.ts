// CNCF Distribution's storage layout. Berth reads and writes exactly these paths so that a storage root
// written by Distribution is served by Berth and the other way round.
//
//   /docker/registry/v2/blobs/<alg>/<first two hex>/<hex>/data
//   /docker/registry/v2/repositories/<name>/_layers/<alg>/<hex>/link
//   /docker/registry/v2/repositories/<name>/_manifests/revisions/<alg>/<hex>/link
//   /docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/current/link
//   /docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/index/<alg>/<hex>/link
//   /docker/registry/v2/repositories/<name>/_uploads/<id>/{data,startedat,hashstates/<alg>/<offset>}
//
// Berth adds one index Distribution does not have, under a `_`-prefixed directory that Distribution's
// catalog and garbage collector ignore:
//   /docker/registry/v2/repositories/<name>/_referrers/<subject alg>/<subject hex>/<alg>/<hex>/link

export const rootPrefix = '/docker/registry/v2';
export const blobsRoot = `${rootPrefix}/blobs`;
export const repositoriesRoot = `${rootPrefix}/repositories`;

/** A parsed `<algorithm>:<hex>` digest. */
export interface DigestParts {
  algorithm: string;
  hex: string;
}

export function splitDigest(digest: string): DigestParts {
  const i = digest.indexOf(':');
  return { algorithm: digest.slice(0, i), hex: digest.slice(i + 1) };
}

export function blobDir(digest: string): string {
  const { algorithm, hex } = splitDigest(digest);
  return `${blobsRoot}/${algorithm}/${hex.slice(0, 2)}/${hex}`;
}

export function blobDataPath(digest: string): string {
  return `${blobDir(digest)}/data`;
}

export function repositoryPath(name: string): string {
  return `${repositoriesRoot}/${name}`;
}

export function layerLinkPath(name: string, digest: string): string {
  const { algorithm, hex } = splitDigest(digest);
  return `${repositoryPath(name)}/_layers/${algorithm}/${hex}/link`;
}

export function layersRoot(name: string): string {
  return `${repositoryPath(name)}/_layers`;
}

export function manifestsRoot(name: string): string {
  return `${repositoryPath(name)}/_manifests`;
}

export function manifestRevisionsRoot(name: string): string {
  return `${manifestsRoot(name)}/revisions`;
}

export function manifestRevisionDir(name: string, digest: string): string {
  const { algorithm, hex } = splitDigest(digest);
  return `${manifestRevisionsRoot(name)}/${algorithm}/${hex}`;
}

export function manifestRevisionLinkPath(name: string, digest: string): string {
  return `${manifestRevisionDir(name, digest)}/link`;
}

export function tagsRoot(name: string): string {
  return `${manifestsRoot(name)}/tags`;
}

export function tagDir(name: string, tag: string): string {
  return `${tagsRoot(name)}/${tag}`;
}

export function tagCurrentLinkPath(name: string, tag: string): string {
  return `${tagDir(name, tag)}/current/link`;
}

export function tagIndexLinkPath(name: string, tag: string, digest: string): string {
  const { algorithm, hex } = splitDigest(digest);
  return `${tagDir(name, tag)}/index/${algorithm}/${hex}/link`;
}

export function uploadsRoot(name: string): string {
  return `${repositoryPath(name)}/_uploads`;
}

export function uploadDir(name: string, id: string): string {
  return `${uploadsRoot(name)}/${id}`;
}

export function uploadDataPath(name: string, id: string): string {
  return `${uploadDir(name, id)}/data`;
}

export function uploadStartedAtPath(name: string, id: string): string {
  return `${uploadDir(name, id)}/startedat`;
}

export function uploadHashStatePath(name: string, id: string, algorithm: string, offset: number): string {
  return `${uploadDir(name, id)}/hashstates/${algorithm}/${offset}`;
}

export function referrersDir(name: string, subject: string): string {
  const { algorithm, hex } = splitDigest(subject);
  return `${repositoryPath(name)}/_referrers/${algorithm}/${hex}`;
}

export function referrerLinkPath(name: string, subject: string, referrer: string): string {
  const { algorithm, hex } = splitDigest(referrer);
  return `${referrersDir(name, subject)}/${algorithm}/${hex}/link`;
}
