// The PersistentVolumeClaim of filesystem storage, unless spec.storage.filesystem.claimName names the user's
// own. Under deletionPolicy Retain (the default) it has no ownerReference: it must outlive the registry.
import * as kplus from 'cdk8s-plus-28';
import type { ContainerRegistry, FilesystemStorage, StorageSpec } from '../../api/index.ts';
import { finishChild, synthesize } from '../child.ts';
import type { ChildBuilder } from '../context.ts';
import { childNames } from '../names.ts';

/** The claim registry pods mount: the user's or the generated one; undefined for object storage. */
export function dataClaimName(cr: ContainerRegistry): string | undefined {
  const fs = cr.spec.storage.filesystem;
  return fs === undefined ? undefined : (fs.claimName ?? childNames(cr.metadata.name).data);
}

/** A filesystem section without claimName: its claim is the generated one. */
function generatedClaimOf(storage: StorageSpec | undefined): FilesystemStorage | undefined {
  const fs = storage?.filesystem;
  return fs !== undefined && fs.claimName === undefined ? fs : undefined;
}

// The generated claim serves the pods (filesystem storage), or waits for a storage migration moving the data
// into it. It is the same claim either way: the registry has one generated claim, whatever it serves from.
export const dataClaim: ChildBuilder = (ctx) => {
  const fs = generatedClaimOf(ctx.registry.spec.storage) ?? generatedClaimOf(ctx.migrationTarget);
  if (fs === undefined) return undefined;
  const size =
    typeof fs.size === 'number'
      ? kplus.k8s.Quantity.fromNumber(fs.size)
      : kplus.k8s.Quantity.fromString(fs.size);
  const claim = synthesize(
    ctx.registry,
    (chart) =>
      new kplus.k8s.KubePersistentVolumeClaim(chart, 'data', {
        metadata: { name: ctx.names.data },
        spec: {
          accessModes: [fs.accessMode],
          resources: { requests: { storage: size } },
          ...(fs.storageClassName !== undefined ? { storageClassName: fs.storageClassName } : {}),
        },
      }),
  );
  return finishChild(ctx.registry, claim, 'storage', {
    owned: ctx.registry.spec.deletionPolicy !== 'Retain',
  });
};
