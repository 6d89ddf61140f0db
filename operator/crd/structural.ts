// zod → a structural OpenAPI v3 schema, as apiextensions.k8s.io/v1 requires it.
//
// zod's own `z.toJSONSchema` (OpenAPI 3.0 target, input side, so defaults appear and transforms do not
// matter) does the walking; this module turns its output into what the API server accepts and refuses what
// it cannot express, so a schema change that Kubernetes would reject fails `npm run generate`, not the install:
// - every node has a `type`, except int-or-string and preserve-unknown-fields nodes;
// - no `$ref`, `oneOf`, `anyOf`, `allOf`, `not`, `const`, `propertyNames`, `additionalProperties: false`
//   (pruning does that job); `anyOf` is only accepted as the int-or-string pair of a quantity;
// - a loose object (`z.looseObject`, `z.record(z.string(), z.unknown())`) becomes
//   `x-kubernetes-preserve-unknown-fields: true`;
// - `format`s the API server does not check the way zod does are dropped (zod still checks them), and
//   `date-time` loses zod's pattern (the format says it);
// - the ±2^53 bounds zod puts on every integer are dropped.
// Metadata keys (`description`, `x-kubernetes-*`) come from `.meta()` on the zod schemas.
import { z } from 'zod';

/** apiextensions.k8s.io/v1 JSONSchemaProps (the subset generated here). */
export interface JSONSchemaProps {
  description?: string;
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  format?: string;
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  items?: JSONSchemaProps;
  minProperties?: number;
  maxProperties?: number;
  properties?: Record<string, JSONSchemaProps>;
  required?: string[];
  additionalProperties?: JSONSchemaProps;
  'x-kubernetes-int-or-string'?: true;
  'x-kubernetes-preserve-unknown-fields'?: true;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-validations'?: { rule: string; message?: string; fieldPath?: string; reason?: string }[];
}

type Json = Record<string, unknown>;

const keptFormats = new Set(['date-time', 'int32', 'int64']);
const safeInt = Number.MAX_SAFE_INTEGER;

/** Keys zod emits that carry no meaning for the API server. */
const ignoredKeys = new Set(['$schema', 'propertyNames']);
/** Keys the API server refuses in a structural schema (or that would silently change meaning). */
const forbiddenKeys = [
  '$ref',
  '$defs',
  'definitions',
  'oneOf',
  'allOf',
  'not',
  'const',
  'patternProperties',
  'dependencies',
  'additionalItems',
  'uniqueItems',
  'prefixItems',
  'id',
];

export class StructuralSchemaError extends Error {
  constructor(path: string, message: string) {
    super(`${path === '' ? '<root>' : path}: ${message}`);
    this.name = 'StructuralSchemaError';
  }
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(node: Json, key: string): number | undefined {
  const v = node[key];
  return typeof v === 'number' ? v : undefined;
}

function str(node: Json, key: string): string | undefined {
  const v = node[key];
  return typeof v === 'string' ? v : undefined;
}

/** The int-or-string pair zod writes for a quantity: `anyOf: [{type: string, pattern}, {type: integer}]`. */
function intOrString(node: Json, path: string): Pick<JSONSchemaProps, 'pattern'> {
  const branches = node['anyOf'];
  if (!Array.isArray(branches))
    throw new StructuralSchemaError(path, 'x-kubernetes-int-or-string without anyOf');
  let pattern: string | undefined;
  for (const b of branches) {
    if (!isObject(b)) throw new StructuralSchemaError(path, 'bad anyOf branch');
    if (b['type'] === 'string') pattern = str(b, 'pattern') ?? pattern;
    else if (b['type'] !== 'integer') {
      throw new StructuralSchemaError(path, `int-or-string branch of type ${String(b['type'])}`);
    }
  }
  return pattern === undefined ? {} : { pattern };
}

function convert(node: Json, path: string): JSONSchemaProps {
  for (const key of forbiddenKeys) {
    if (key in node) throw new StructuralSchemaError(path, `"${key}" is not allowed in a structural schema`);
  }
  const out: JSONSchemaProps = {};
  const description = str(node, 'description');
  if (description !== undefined) out.description = description;

  const isIntOrString = node['x-kubernetes-int-or-string'] === true;
  if ('anyOf' in node && !isIntOrString) {
    throw new StructuralSchemaError(
      path,
      'unions are not structural; use an object with optional members and a CEL rule (or mark a quantity with x-kubernetes-int-or-string)',
    );
  }

  const type = node['type'];
  const additional = node['additionalProperties'];
  const preserveUnknown =
    node['x-kubernetes-preserve-unknown-fields'] === true ||
    additional === true ||
    (isObject(additional) && Object.keys(additional).length === 0);

  if (isIntOrString) {
    Object.assign(out, intOrString(node, path));
  } else if (typeof type === 'string') {
    if (!['object', 'array', 'string', 'integer', 'number', 'boolean'].includes(type)) {
      throw new StructuralSchemaError(path, `type ${type} is not supported`);
    }
    out.type = type as JSONSchemaProps['type'];
  } else if (!preserveUnknown) {
    throw new StructuralSchemaError(
      path,
      'no type (z.unknown/z.any are only allowed as values of free-form maps)',
    );
  }

  const format = str(node, 'format');
  if (format !== undefined && keptFormats.has(format)) out.format = format;
  if (Array.isArray(node['enum'])) out.enum = node['enum'];
  if ('default' in node) out.default = node['default'];

  const minimum = num(node, 'minimum');
  const maximum = num(node, 'maximum');
  if (minimum !== undefined && minimum !== -safeInt) out.minimum = minimum;
  if (maximum !== undefined && maximum !== safeInt) out.maximum = maximum;
  if (node['exclusiveMinimum'] === true) out.exclusiveMinimum = true;
  if (node['exclusiveMaximum'] === true) out.exclusiveMaximum = true;
  const multipleOf = num(node, 'multipleOf');
  if (multipleOf !== undefined) out.multipleOf = multipleOf;

  const minLength = num(node, 'minLength');
  const maxLength = num(node, 'maxLength');
  if (minLength !== undefined) out.minLength = minLength;
  if (maxLength !== undefined) out.maxLength = maxLength;
  const pattern = str(node, 'pattern');
  if (pattern !== undefined && format !== 'date-time' && !isIntOrString) out.pattern = pattern;

  if (type === 'array') {
    const minItems = num(node, 'minItems');
    const maxItems = num(node, 'maxItems');
    if (minItems !== undefined) out.minItems = minItems;
    if (maxItems !== undefined) out.maxItems = maxItems;
    const items = node['items'];
    if (!isObject(items)) throw new StructuralSchemaError(path, 'an array needs one items schema');
    out.items = convert(items, `${path}[]`);
  }

  if (type === 'object') {
    const minProperties = num(node, 'minProperties');
    const maxProperties = num(node, 'maxProperties');
    if (minProperties !== undefined) out.minProperties = minProperties;
    if (maxProperties !== undefined) out.maxProperties = maxProperties;
    const properties = node['properties'];
    if (isObject(properties)) {
      out.properties = {};
      for (const [name, child] of Object.entries(properties)) {
        if (!isObject(child)) throw new StructuralSchemaError(`${path}.${name}`, 'not a schema');
        out.properties[name] = convert(child, path === '' ? name : `${path}.${name}`);
      }
      const required = node['required'];
      if (Array.isArray(required) && required.length > 0) out.required = required.map(String);
    }
    if (isObject(additional) && !preserveUnknown) {
      if (out.properties !== undefined) {
        throw new StructuralSchemaError(
          path,
          'properties and a typed additionalProperties cannot be combined',
        );
      }
      out.additionalProperties = convert(additional, `${path}.*`);
    }
  }
  if (preserveUnknown) out['x-kubernetes-preserve-unknown-fields'] = true;

  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('x-kubernetes-') && key !== 'x-kubernetes-preserve-unknown-fields') {
      (out as Json)[key] = value;
    }
  }

  const known = new Set([
    ...Object.keys(out),
    ...ignoredKeys,
    'type',
    'format',
    'pattern',
    'minimum',
    'maximum',
    'exclusiveMinimum',
    'exclusiveMaximum',
    'anyOf',
    'additionalProperties',
    'properties',
    'required',
    'items',
    'minItems',
    'maxItems',
  ]);
  for (const key of Object.keys(node)) {
    if (!known.has(key))
      throw new StructuralSchemaError(path, `unexpected key "${key}" from zod; extend the generator`);
  }
  return out;
}

/** The structural schema of a zod schema (its input side: defaults included, transforms ignored). */
export function structuralSchema(schema: z.ZodType): JSONSchemaProps {
  const json = z.toJSONSchema(schema, {
    io: 'input',
    target: 'openapi-3.0',
    unrepresentable: 'throw',
    cycles: 'throw',
    reused: 'inline',
  }) as Json;
  return convert(json, '');
}
