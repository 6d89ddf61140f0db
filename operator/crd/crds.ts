// CustomResourceDefinitions generated from the zod schemas in operator/api (pure; generate.ts writes them).
import { dump } from 'js-yaml';
import { celRulesOf } from '../api/rules.ts';
import { resources, type ResourceDefinition } from '../api/resources.ts';
import { structuralSchema, StructuralSchemaError, type JSONSchemaProps } from './structural.ts';

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames: string[];
      categories: string[];
    };
    scope: 'Namespaced';
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: ResourceDefinition['printerColumns'];
      schema: { openAPIV3Schema: JSONSchemaProps };
    }[];
  };
}

/** The root schema: the standard apiVersion/kind/metadata, and spec/status from zod. */
function rootSchema(def: ResourceDefinition): JSONSchemaProps {
  const generated = structuralSchema(def.schema);
  const spec = generated.properties?.['spec'];
  const status = generated.properties?.['status'];
  if (spec === undefined || status === undefined) {
    throw new StructuralSchemaError(def.kind, 'the object schema needs spec and status properties');
  }
  const root: JSONSchemaProps = {
    description: def.description,
    type: 'object',
    properties: {
      apiVersion: {
        description:
          'APIVersion defines the versioned schema of this representation of an object. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources',
        type: 'string',
      },
      kind: {
        description:
          'Kind is a string value representing the REST resource this object represents. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds',
        type: 'string',
      },
      metadata: { type: 'object' },
      spec,
      status,
    },
    required: ['spec'],
  };
  const rules = celRulesOf(def.schema);
  if (rules.length > 0) root['x-kubernetes-validations'] = rules;
  return root;
}

export function buildCrd(def: ResourceDefinition): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${def.plural}.${def.group}`,
      labels: { 'app.kubernetes.io/part-of': 'berth' },
    },
    spec: {
      group: def.group,
      names: {
        kind: def.kind,
        listKind: def.listKind,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: def.categories,
      },
      scope: def.scope,
      versions: [
        {
          name: def.version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.printerColumns,
          schema: { openAPIV3Schema: rootSchema(def) },
        },
      ],
    },
  };
}

const header =
  '# Generated from the zod schemas in operator/api by `npm run generate` (operator/crd/generate.ts).\n# Do not edit: change the schemas and run `npm run generate`.\n';

export function crdYaml(crd: CustomResourceDefinition): string {
  return `${header}${dump(crd, { lineWidth: -1, noRefs: true })}`;
}

/** Where the CRDs go, relative to the repository root: crds/ and the chart's crds/. */
export const crdDirectories = ['crds', 'charts/berth/crds'] as const;

export function crdFileName(def: ResourceDefinition): string {
  return `${def.group}_${def.plural}.yaml`;
}

/** Every generated file: repository-relative path → content. */
export function generatedFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const def of resources) {
    const content = crdYaml(buildCrd(def));
    for (const dir of crdDirectories) files.set(`${dir}/${crdFileName(def)}`, content);
  }
  return files;
}
