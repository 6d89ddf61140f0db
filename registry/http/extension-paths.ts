// Repository names contain slashes, so `/berth/v1/repositories/<name>/<what>` is routed by suffix here, as
// routes.ts does for `/v2/`.
import { requestPath } from './routes.ts';

/** The repository name in `url` when its path matches `pattern` (name in group 1), else undefined. */
export function repositoryPathName(url: string, pattern: RegExp): string | undefined {
  try {
    return pattern.exec(decodeURIComponent(requestPath(url)))?.[1];
  } catch {
    return undefined;
  }
}
