// Which images Pods use, in the form the cleanup planner protects (ImagesInUse): every manifest digest named
// by a Pod (an image referenced by digest, or the digest containerd resolved, `status.containerStatuses[]
// .imageID`), and every `repository:tag` a Pod names on one of the registry's host names. Digests count
// whatever the host: the same manifest pulled through another name is still in use. Pure.
import type { ImagesInUse } from './algorithm.ts';

export interface PodImages {
  spec?: {
    containers?: { image?: string }[];
    initContainers?: { image?: string }[];
    ephemeralContainers?: { image?: string }[];
  };
  status?: {
    containerStatuses?: { image?: string; imageID?: string }[];
    initContainerStatuses?: { image?: string; imageID?: string }[];
    ephemeralContainerStatuses?: { image?: string; imageID?: string }[];
  };
}

export interface ImageReference {
  /** Registry host (with port), undefined when the reference has none (Docker Hub). */
  host?: string;
  repository: string;
  tag?: string;
  digest?: string;
}

const digestPattern = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Splits an image reference (`host:port/path:tag@sha256:…`); undefined when it is not one. */
export function parseImageReference(ref: string): ImageReference | undefined {
  let rest = ref.trim().replace(/^[a-z-]+:\/\//, ''); // docker-pullable://, containerd://
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!digestPattern.test(digest)) return undefined;
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  // As Docker decides: the first component is a host when it has a dot or a port, or is localhost.
  const hasHost = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost');
  const repository = hasHost ? rest.slice(slash + 1) : rest;
  if (repository === '') return undefined;
  return {
    ...(hasHost ? { host: first.toLowerCase() } : {}),
    repository,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/** The digests and `repository:tag` references (on `hosts`) that the Pods use. */
export function imagesInUse(pods: readonly PodImages[], hosts: readonly string[]): ImagesInUse {
  const ours = new Set(hosts.map((h) => h.toLowerCase()));
  const digests = new Set<string>();
  const references = new Set<string>();
  const note = (image: string | undefined) => {
    if (image === undefined || image === '') return;
    // A bare image ID (`sha256:…`, a local image's config digest) is kept too: protecting more is safe.
    if (digestPattern.test(image) && !image.includes('/')) {
      digests.add(image);
      return;
    }
    const ref = parseImageReference(image);
    if (ref === undefined) return;
    if (ref.digest !== undefined) digests.add(ref.digest);
    if (ref.host !== undefined && ours.has(ref.host) && ref.digest === undefined) {
      references.add(`${ref.repository}:${ref.tag ?? 'latest'}`);
    }
  };
  for (const pod of pods) {
    const spec = pod.spec ?? {};
    for (const c of [
      ...(spec.containers ?? []),
      ...(spec.initContainers ?? []),
      ...(spec.ephemeralContainers ?? []),
    ]) {
      note(c.image);
    }
    const status = pod.status ?? {};
    for (const s of [
      ...(status.containerStatuses ?? []),
      ...(status.initContainerStatuses ?? []),
      ...(status.ephemeralContainerStatuses ?? []),
    ]) {
      note(s.image);
      note(s.imageID);
    }
  }
  return { digests, references };
}
