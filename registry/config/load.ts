// Loading config.yml: read the file, parse YAML, apply REGISTRY_* environment overrides the way CNCF
// Distribution does, validate with the zod schema, and compute a revision hash of the effective config.
//
// Environment overrides: REGISTRY_<SEGMENT>_<SEGMENT>... names a key path, `_` separating levels
// (REGISTRY_STORAGE_DELETE_ENABLED → storage.delete.enabled). Variables are applied in name order, so a whole
// section (REGISTRY_STORAGE) is replaced before a key inside it (REGISTRY_STORAGE_S3_BUCKET). Unlike
// Distribution, which walks its Go structs and silently ignores names it does not know, this walks the zod
// schema: segments are matched against the keys the schema allows — longest match first, so keys that
// themselves contain `_` (azure's `max_retries`) are reachable — and an unknown name is an error like an
// unknown key in the file. Values are YAML scalars (`true` → boolean, `5` → number), except where the schema
// wants a string, where the text is kept as is (so REGISTRY_HTTP_SECRET=12345 stays a string), which is
// also what Distribution does. An empty value removes the key (its default applies).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { CORE_SCHEMA, YAMLException, load, mergeTag } from 'js-yaml';
import type { z } from 'zod';
import { registryConfigSchema, type RegistryConfig } from './schema.ts';

export interface ConfigIssue {
  /** Dotted key path, e.g. `storage.delete.enabled` or `notifications.endpoints[0].url`; '' for the file. */
  path: string;
  message: string;
  /** The environment variable that set this value, when it came from the environment. */
  env?: string;
  /** 1-based position in the file, for YAML syntax errors. */
  line?: number;
  column?: number;
}

export type ConfigErrorCode =
  'CONFIG_NOT_FOUND' | 'CONFIG_UNREADABLE' | 'CONFIG_YAML_INVALID' | 'CONFIG_INVALID';

/** A config that cannot be used. The message names the file, the key path and the problem, one per line. */
export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  readonly source: string;
  readonly issues: readonly ConfigIssue[];

  constructor(
    code: ConfigErrorCode,
    source: string,
    issues: readonly ConfigIssue[],
    options?: { cause?: unknown },
  ) {
    super(issues.map((issue) => formatIssue(source, issue)).join('\n'), options);
    this.name = 'ConfigError';
    this.code = code;
    this.source = source;
    this.issues = issues;
  }
}

function formatIssue(source: string, issue: ConfigIssue): string {
  const where = issue.line === undefined ? source : `${source}:${issue.line}:${issue.column ?? 1}`;
  const path = issue.path === '' ? '' : `${issue.path}: `;
  const env = issue.env === undefined ? '' : ` (set by ${issue.env})`;
  return `${where}: ${path}${issue.message}${env}`;
}

export interface LoadedConfig {
  config: RegistryConfig;
  /** Short sha256 of the effective config; equal configs give equal revisions on every replica. */
  revision: string;
  /** Things worth logging that did not stop the load (ignored variables, deprecated keys). */
  warnings: string[];
}

export interface ParseOptions {
  /** Base for a relative `storage.filesystem.rootdirectory`. Default: `process.cwd()`. */
  cwd?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads, parses and validates a config file. Throws ConfigError. */
export async function loadConfig(
  path: string,
  env: Env = process.env,
  options: ParseOptions = {},
): Promise<LoadedConfig> {
  return parseConfig(await readConfigFile(path), env, path, options);
}

/** Reads a config file's text, turning I/O errors into ConfigError. */
export async function readConfigFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new ConfigError('CONFIG_NOT_FOUND', path, [{ path: '', message: 'config file not found' }], {
        cause: err,
      });
    }
    const reason = code === 'EISDIR' ? 'is a directory' : (code ?? (err as Error).message);
    throw new ConfigError(
      'CONFIG_UNREADABLE',
      path,
      [{ path: '', message: `cannot read config file: ${reason}` }],
      {
        cause: err,
      },
    );
  }
}

/**
 * Parses config text (YAML), applies REGISTRY_* overrides from `env`, validates, and resolves a relative
 * filesystem rootdirectory against `options.cwd`. `source` names the text in error messages. Throws ConfigError.
 */
export function parseConfig(
  text: string,
  env: Env = process.env,
  source = 'config.yml',
  options: ParseOptions = {},
): LoadedConfig {
  const warnings: string[] = [];
  const raw = parseYaml(text, source);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError('CONFIG_INVALID', source, [
      { path: '', message: 'expected a YAML mapping at the top level' },
    ]);
  }
  const root = raw as Record<string, unknown>;
  const envPaths = applyEnvOverrides(root, env, source, warnings);
  normalize(root, registryConfigSchema, true);
  if (root.loglevel !== undefined) warnings.push('loglevel is deprecated: use log.level');
  if (isObject(root.validation) && root.validation.enabled !== undefined) {
    warnings.push('validation.enabled is deprecated: use validation.disabled');
  }

  const result = registryConfigSchema.safeParse(root, { reportInput: true });
  if (!result.success) {
    const issues = result.error.issues.flatMap((issue) => describeIssue(issue, envPaths));
    throw new ConfigError('CONFIG_INVALID', source, issues);
  }
  const config = result.data;
  if (config.storage.filesystem && !isAbsolute(config.storage.filesystem.rootdirectory)) {
    config.storage.filesystem.rootdirectory = resolve(
      options.cwd ?? process.cwd(),
      config.storage.filesystem.rootdirectory,
    );
  }
  return { config, revision: configRevision(config), warnings };
}

/** A stable short hash of a config: key order and formatting of the source do not matter. */
export function configRevision(config: RegistryConfig): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 12);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (isObject(value)) {
    const entries = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

// ---------------------------------------------------------------------------------------------------------
// YAML

// Distribution's YAML library supports merge keys (`<<: *anchor`); the core schema does not by default.
const YAML_SCHEMA = CORE_SCHEMA.withTags(mergeTag);

function parseYaml(text: string, source: string): unknown {
  if (text.trim() === '' || text.split('\n').every((l) => /^\s*(#.*)?$/.test(l))) {
    throw new ConfigError('CONFIG_INVALID', source, [{ path: '', message: 'config file is empty' }]);
  }
  try {
    return load(text, { schema: YAML_SCHEMA });
  } catch (err) {
    if (err instanceof YAMLException) {
      // Only the reason and position: the exception's source snippet could show secrets from nearby lines.
      const line = err.mark === undefined ? undefined : err.mark.line + 1;
      const column = err.mark === undefined ? undefined : err.mark.column + 1;
      throw new ConfigError(
        'CONFIG_YAML_INVALID',
        source,
        [{ path: '', message: `invalid YAML: ${err.reason}`, line, column }],
        { cause: err },
      );
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Schema introspection: what the schema expects at a key path (used by env overrides and null handling).

type Schema = z.core.$ZodType;

type Shape =
  | { kind: 'object'; keys: Map<string, Schema> }
  | { kind: 'record'; value: Schema }
  | { kind: 'array'; element: Schema }
  | { kind: 'never' }
  | { kind: 'any' }
  /** A scalar; `text` when it only accepts strings (env values are then kept verbatim). */
  | { kind: 'leaf'; text: boolean };

interface AnyDef {
  type: string;
  innerType?: Schema;
  in?: Schema;
  out?: Schema;
  shape?: Record<string, Schema>;
  valueType?: Schema;
  element?: Schema;
  options?: readonly Schema[];
  values?: readonly unknown[];
  entries?: Record<string, unknown>;
  getter?: () => Schema;
}

function defOf(schema: Schema): AnyDef {
  return schema._zod.def as unknown as AnyDef;
}

/** `undefined` stands for a free-form value (below a `z.unknown()`). */
function shapeOf(schema: Schema | undefined): Shape {
  if (schema === undefined) return { kind: 'any' };
  const def = defOf(schema);
  switch (def.type) {
    case 'object':
      return { kind: 'object', keys: new Map(Object.entries(def.shape ?? {})) };
    case 'record':
      return def.valueType ? { kind: 'record', value: def.valueType } : { kind: 'any' };
    case 'array':
      return def.element ? { kind: 'array', element: def.element } : { kind: 'any' };
    case 'never':
      return { kind: 'never' };
    case 'unknown':
    case 'any':
      return { kind: 'any' };
    case 'pipe': {
      // z.preprocess puts a transform first; otherwise the input side is what the YAML must look like.
      const first = def.in && defOf(def.in).type === 'transform' ? def.out : def.in;
      return first ? shapeOf(first) : { kind: 'any' };
    }
    case 'lazy':
      return def.getter ? shapeOf(def.getter()) : { kind: 'any' };
    case 'union': {
      const options = (def.options ?? []).map(shapeOf);
      const text = options.every((o) => o.kind === 'leaf' && o.text);
      return { kind: 'leaf', text };
    }
    case 'string':
    case 'template_literal':
      return { kind: 'leaf', text: true };
    case 'enum':
      return { kind: 'leaf', text: Object.values(def.entries ?? {}).every((v) => typeof v === 'string') };
    case 'literal':
      return { kind: 'leaf', text: (def.values ?? []).every((v) => typeof v === 'string') };
    default:
      if (def.innerType) return shapeOf(def.innerType); // optional, default, prefault, nullable, readonly...
      return { kind: 'leaf', text: false };
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Keys whose value may be written as a bare driver/provider name (`storage: inmemory`), as in Distribution. */
const NAME_SHORTHAND = new Set(['storage', 'auth']);

function expandShorthand(key: string, value: unknown): unknown {
  return NAME_SHORTHAND.has(key) && typeof value === 'string' && value !== '' ? { [value]: {} } : value;
}

/**
 * YAML `key:` with no value is null. For a section that means "present, empty" (`inmemory:` selects the
 * driver); for a scalar it means "unset" so the default applies — Go's zero-value behaviour in Distribution.
 * Unsupported keys keep their null so they are still reported.
 */
function normalize(value: Record<string, unknown>, schema: Schema | undefined, isRoot = false): void {
  const shape = shapeOf(schema);
  if (shape.kind === 'object') {
    for (const [key, child] of shape.keys) {
      if (!(key in value)) continue;
      if (isRoot) value[key] = expandShorthand(key, value[key]);
      normalizeEntry(value, key, child);
    }
  } else if (shape.kind === 'record') {
    for (const key of Object.keys(value)) normalizeEntry(value, key, shape.value);
  }
}

function normalizeEntry(
  holder: Record<string, unknown> | unknown[],
  key: string | number,
  schema: Schema,
): void {
  const container = holder as Record<string | number, unknown>;
  const shape = shapeOf(schema);
  let v = container[key];
  if (v === null) {
    if (shape.kind === 'object' || shape.kind === 'record') v = {};
    else if (shape.kind === 'array') v = [];
    else if (shape.kind === 'never') return;
    else if (!Array.isArray(holder)) {
      Reflect.deleteProperty(container, key);
      return;
    }
    container[key] = v;
  }
  if (isObject(v)) normalize(v, schema);
  else if (Array.isArray(v) && shape.kind === 'array') {
    for (let i = 0; i < v.length; i++) normalizeEntry(v, i, shape.element);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Environment overrides

const ENV_PREFIX = 'REGISTRY_';
/** Distribution's own variable for the config file location; not a config key. */
const NOT_CONFIG = new Set(['REGISTRY_CONFIGURATION_PATH']);
/**
 * Kubernetes injects <SERVICE>_SERVICE_HOST, <SERVICE>_PORT_5000_TCP_ADDR, ... for every Service in the
 * namespace; a Service named `registry` or `registry-*` yields REGISTRY_* names. They are skipped (with a
 * warning) when they do not name a config key, rather than failing start-up.
 */
const SERVICE_LINK =
  /_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_\d+_(TCP|UDP|SCTP)(_(ADDR|PORT|PROTO))?)?)$/;

class EnvKeyError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(message);
    this.path = path;
  }
}

/** Applies REGISTRY_* overrides to `root` in place; returns the key paths set, mapped to the variable names. */
function applyEnvOverrides(
  root: Record<string, unknown>,
  env: Env,
  source: string,
  warnings: string[],
): Map<string, string> {
  const names = Object.keys(env)
    .filter((name) => name.startsWith(ENV_PREFIX) && !NOT_CONFIG.has(name))
    .sort();
  const paths = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  for (const name of names) {
    const value = env[name];
    if (value === undefined) continue;
    try {
      const path = applyOne(root, name.slice(ENV_PREFIX.length).split('_'), value);
      paths.set(path, name);
    } catch (err) {
      if (!(err instanceof EnvKeyError)) throw err;
      if (SERVICE_LINK.test(name)) {
        warnings.push(`ignored ${name}: not a config key (looks like a Kubernetes service link variable)`);
        continue;
      }
      issues.push({ path: err.path, message: err.message, env: name });
    }
  }
  if (issues.length > 0) throw new ConfigError('CONFIG_INVALID', source, issues);
  return paths;
}

/** Sets one override; returns the dotted key path it set. Throws EnvKeyError when the name is not a key. */
function applyOne(root: Record<string, unknown>, segments: string[], value: string): string {
  if (segments.some((s) => s === '')) throw new EnvKeyError('', 'malformed variable name (empty segment)');
  let holder: Record<string | number, unknown> = root;
  let schema: Schema | undefined = registryConfigSchema;
  const path: (string | number)[] = [];
  for (let i = 0; i < segments.length;) {
    const seg = segments[i] ?? '';
    const shape = shapeOf(schema);
    let key: string | number;
    let used = 1;
    let next: Schema | undefined;
    switch (shape.kind) {
      case 'object': {
        const known = [...shape.keys.keys()];
        const match = longestMatch(segments, i, known);
        if (match === undefined) {
          const guess = seg.toLowerCase();
          throw new EnvKeyError(formatPath([...path, guess]), unknownKeyMessage(guess, known));
        }
        [key, used] = match;
        next = shape.keys.get(key);
        break;
      }
      case 'record': {
        const match = longestMatch(segments, i, Object.keys(holder));
        const valueKind = shapeOf(shape.value).kind;
        if (match) [key, used] = match;
        else if (valueKind === 'object' || valueKind === 'record' || valueKind === 'array')
          key = seg.toLowerCase();
        // Scalar values: the rest of the name is the key (gcs credentials' `private_key_id`).
        else [key, used] = [segments.slice(i).join('_').toLowerCase(), segments.length - i];
        next = shape.value;
        break;
      }
      case 'array': {
        const length = Array.isArray(holder) ? holder.length : 0;
        if (!/^\d+$/.test(seg) || Number(seg) > length) {
          throw new EnvKeyError(
            formatPath(path),
            `index ${seg} is not a valid position (the list has ${length} items)`,
          );
        }
        key = Number(seg);
        next = shape.element;
        break;
      }
      case 'leaf':
        throw new EnvKeyError(
          formatPath([...path, seg.toLowerCase()]),
          `unknown key (${formatPath(path)} is a value)`,
        );
      default:
        // Free-form or unsupported value: nest one segment at a time, as Distribution does.
        key = seg.toLowerCase();
        next = undefined;
    }

    path.push(key);
    i += used;
    if (i === segments.length) {
      if (value === '') Reflect.deleteProperty(holder, key);
      else holder[key] = envValue(value, next);
      break;
    }
    let child = holder[key];
    if (holder === root && typeof key === 'string') child = expandShorthand(key, child);
    const wantsArray = shapeOf(next).kind === 'array';
    if (wantsArray ? !Array.isArray(child) : !isObject(child)) child = wantsArray ? [] : {};
    holder[key] = child;
    holder = child as Record<string | number, unknown>;
    schema = next;
  }
  return formatPath(path);
}

/** Finds the longest run of segments from `start` that, joined with `_`, equals one of `keys` (any case). */
function longestMatch(segments: string[], start: number, keys: string[]): [string, number] | undefined {
  const byLower = new Map(keys.map((k) => [k.toLowerCase(), k]));
  for (let end = segments.length; end > start; end--) {
    const key = byLower.get(segments.slice(start, end).join('_').toLowerCase());
    if (key !== undefined) return [key, end - start];
  }
  return undefined;
}

/** An env value as YAML, unless the schema wants text there (then verbatim, as yaml.v2 does for strings). */
function envValue(text: string, schema: Schema | undefined): unknown {
  let parsed: unknown;
  try {
    parsed = load(text, { schema: YAML_SCHEMA });
  } catch {
    return text;
  }
  const shape = shapeOf(schema);
  if (shape.kind === 'leaf' && shape.text && (parsed === null || typeof parsed !== 'object')) return text;
  return parsed;
}

// ---------------------------------------------------------------------------------------------------------
// Error messages

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

function unknownKeyMessage(key: string, known: readonly string[]): string {
  const guess = closest(key, known);
  return guess === undefined ? 'unknown key' : `unknown key (did you mean "${guess}"?)`;
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 4)) + 1;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/** The schema's keys at a path (for "did you mean"). */
function keysAt(path: readonly PropertyKey[]): string[] {
  let schema: Schema | undefined = registryConfigSchema;
  for (const seg of path) {
    const shape = shapeOf(schema);
    if (shape.kind === 'object' && typeof seg === 'string') schema = shape.keys.get(seg);
    else if (shape.kind === 'record') schema = shape.value;
    else if (shape.kind === 'array') schema = shape.element;
    else return [];
  }
  const shape = shapeOf(schema);
  return shape.kind === 'object' ? [...shape.keys.keys()] : [];
}

function envFor(path: string, envPaths: Map<string, string>): string | undefined {
  for (let p = path; ;) {
    const name = envPaths.get(p);
    if (name !== undefined) return name;
    const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
    if (cut <= 0) return undefined;
    p = p.slice(0, cut);
  }
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return 'mapping';
  return typeof v;
}

const EXPECTED_NAMES: Record<string, string> = {
  int: 'integer',
  object: 'mapping',
  record: 'mapping',
  array: 'list',
};

function describeIssue(issue: z.core.$ZodIssue, envPaths: Map<string, string>): ConfigIssue[] {
  const at = (path: readonly PropertyKey[], message: string): ConfigIssue => {
    const p = formatPath(path);
    const env = envFor(p, envPaths);
    return env === undefined ? { path: p, message } : { path: p, message, env };
  };
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = keysAt(issue.path);
      return issue.keys.map((key) => at([...issue.path, key], unknownKeyMessage(key, known)));
    }
    case 'invalid_type': {
      if (issue.expected === 'never') return [at(issue.path, issue.message)]; // "... is not supported by Berth"
      if (issue.input === undefined) return [at(issue.path, 'required')];
      const expected = EXPECTED_NAMES[issue.expected] ?? issue.expected;
      const received = typeName(issue.input);
      const hint =
        issue.expected === 'string' && (received === 'number' || received === 'boolean')
          ? ' (quote the value)'
          : '';
      return [at(issue.path, `expected ${expected}, received ${received}${hint}`)];
    }
    case 'invalid_value': {
      const values = issue.values.map((v) => JSON.stringify(v)).join(', ');
      return [at(issue.path, issue.values.length === 1 ? `expected ${values}` : `expected one of ${values}`)];
    }
    case 'too_small': {
      const min = String(issue.minimum);
      if (issue.origin === 'string') return [at(issue.path, 'must not be empty')];
      if (issue.origin === 'array') return [at(issue.path, `must have at least ${min} item(s)`)];
      return [at(issue.path, `must be ${issue.inclusive ? '>=' : '>'} ${min}`)];
    }
    case 'too_big':
      return [at(issue.path, `must be ${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)}`)];
    case 'invalid_format':
      return [at(issue.path, issue.message)];
    case 'invalid_union':
      return [at(issue.path, 'invalid value')];
    default:
      return [at(issue.path, issue.message)];
  }
}
