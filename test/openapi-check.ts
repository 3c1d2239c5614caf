/**
 * Checks real answers against the OpenAPI document the server serves: which operation a
 * request is, whether its answer's status, Content-Type, headers and body are the ones
 * documented. Used by test/openapi.test.ts.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type {
  Header,
  Method,
  OpenApiDocument,
  Operation,
  PathItem,
  Response,
  Schema,
} from '../src/http/openapi.js';
import { METHODS } from '../src/http/openapi.js';
import type { Answer } from './helpers.js';

/** The value at a local `$ref` (`#/a/b`), or undefined when there is none. */
export function resolve(doc: unknown, ref: string): unknown {
  assert.ok(ref.startsWith('#/'), `only local references: ${ref}`);
  let at: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const name = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (at === null || typeof at !== 'object' || !Object.hasOwn(at, name)) return undefined;
    at = (at as Record<string, unknown>)[name];
  }
  return at;
}

/** Every `$ref` in the document, with where it is. */
export function refsOf(value: unknown, where = '#'): [string, string][] {
  if (value === null || typeof value !== 'object') return [];
  const found: [string, string][] = [];
  for (const [name, inner] of Object.entries(value)) {
    if (name === '$ref' && typeof inner === 'string') found.push([where, inner]);
    else found.push(...refsOf(inner, `${where}/${name}`));
  }
  return found;
}

/** Follows a `{"$ref"}` object to what it names. */
export function deref<T>(doc: OpenApiDocument, value: T | { $ref: string }): T {
  if (value !== null && typeof value === 'object' && '$ref' in value) {
    const target = resolve(doc, value.$ref);
    assert.ok(target !== undefined, `${value.$ref} resolves`);
    return target as T;
  }
  return value as T;
}

/** The document's operations, as `METHOD path` → operation. */
export function operationsOf(doc: OpenApiDocument): Map<string, Operation> {
  const operations = new Map<string, Operation>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (operation) operations.set(`${method.toUpperCase()} ${path}`, operation);
    }
  }
  return operations;
}

/**
 * Compiles schemas of the document with Ajv (JSON Schema 2020-12, strict: an unknown
 * keyword or a misspelt one is an error). The component schemas are added under an id of
 * their own, and `#/components/schemas/X` references are pointed there.
 */
export class SchemaChecker {
  // Strict, but for two checks that refuse what composition needs: an optional last item of
  // a tuple (an NDJSON line's expiry), and `required` naming a member defined beside a
  // `$ref` or in another branch of a `oneOf`.
  readonly #ajv = new Ajv2020({ strict: true, allErrors: true, strictTuples: false, strictRequired: false });
  readonly #compiled = new Map<Schema, ValidateFunction>();

  constructor(doc: OpenApiDocument) {
    this.#ajv.addSchema(SchemaChecker.#local({ $id: 'openapi', $defs: doc.components.schemas }));
  }

  static #local(schema: unknown): Schema {
    return JSON.parse(
      JSON.stringify(schema).replaceAll('"#/components/schemas/', '"openapi#/$defs/'),
    ) as Schema;
  }

  compile(schema: Schema): ValidateFunction {
    let validate = this.#compiled.get(schema);
    if (!validate) this.#compiled.set(schema, (validate = this.#ajv.compile(SchemaChecker.#local(schema))));
    return validate;
  }

  /** Asserts `value` is valid under `schema`; `what` names it in the failure. */
  check(schema: Schema, value: unknown, what: string): void {
    const validate = this.compile(schema);
    assert.ok(
      validate(value),
      `${what}: ${this.#ajv.errorsText(validate.errors)}\n${JSON.stringify(value).slice(0, 500)}`,
    );
  }
}

/** `text/plain; version=0.0.4` → type `text/plain` and its parameters, lower-cased. */
function mediaType(text: string): { type: string; params: Map<string, string> } {
  const [type, ...params] = text.split(';').map((part) => part.trim().toLowerCase());
  return {
    type: type!,
    params: new Map(params.map((p) => p.split('=').map((s) => s.trim()) as [string, string])),
  };
}

/** True when a Content-Type header is what a documented media type key says; the any-type range matches all. */
export function matchesMediaType(header: string, documented: string): boolean {
  if (documented === '*/*') return true;
  const actual = mediaType(header);
  const wanted = mediaType(documented);
  return (
    actual.type === wanted.type &&
    [...wanted.params].every(([name, value]) => actual.params.get(name) === value)
  );
}

/** A documented path's template as a regular expression over request paths. */
function templateRegExp(path: string): RegExp {
  const escaped = path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\}/g, '[^/]+');
  return new RegExp(`^${escaped}$`);
}

/**
 * The documented path a request path is, as OpenAPI matches them: a path without
 * parameters before a templated one (`/kv/_mget` before `/kv/{key}`). Null when none is.
 */
export function pathOf(doc: OpenApiDocument, requestPath: string): string | null {
  const path = requestPath.split('?', 1)[0]!;
  const candidates = Object.keys(doc.paths)
    .filter((template) => templateRegExp(template).test(path))
    .sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0));
  return candidates[0] ?? null;
}

/** The response a request's answer must match, and the operation it is (none for a 404 or 405 answer). */
export function expectedResponse(
  doc: OpenApiDocument,
  method: string,
  requestPath: string,
  status: number,
): { operation: string | null; response: Response } {
  const path = pathOf(doc, requestPath);
  if (path === null) {
    const response = deref<Response>(doc, doc['x-unknown-path']);
    assert.equal(status, 404, `no documented path is ${requestPath}, so only x-unknown-path's 404 fits`);
    return { operation: null, response };
  }
  const item: PathItem = doc.paths[path]!;
  const operation = item[method.toLowerCase() as Method];
  if (!operation) {
    return { operation: null, response: deref<Response>(doc, item['x-other-methods']) };
  }
  const response = operation.responses[String(status)];
  assert.ok(
    response,
    `${method} ${path} (${operation.operationId}) documents ${Object.keys(operation.responses).join(', ')}, not ${status}`,
  );
  return { operation: `${method.toUpperCase()} ${path}`, response };
}

/**
 * Asserts an answer is what `response` documents: its Content-Type one of the documented
 * media types, its body valid under that type's schema (each line, for NDJSON), an error's
 * code among those listed for its status, every header documented as always there present,
 * and every documented header that is there valid.
 */
export function checkAnswer(
  schemas: SchemaChecker,
  response: Response,
  method: string,
  answer: Answer,
  what: string,
): void {
  const head = method.toUpperCase() === 'HEAD';
  if (head) assert.equal(answer.body.length, 0, `${what}: HEAD answers carry no body`);
  for (const [name, header] of Object.entries(response.headers ?? {}) as [string, Header][]) {
    const value = answer.headers[name.toLowerCase()];
    if (header.required)
      assert.ok(value !== undefined, `${what}: header ${name} is documented as always there`);
    if (typeof value === 'string') schemas.check(header.schema, value, `${what}: header ${name}`);
  }
  const contentType = answer.headers['content-type'];
  if (!response.content) {
    assert.equal(answer.body.length, 0, `${what}: no body is documented`);
    return;
  }
  assert.ok(typeof contentType === 'string', `${what}: a Content-Type is documented`);
  const media = Object.entries(response.content).find(([type]) => matchesMediaType(contentType, type));
  assert.ok(
    media,
    `${what}: Content-Type ${contentType} is not one of ${Object.keys(response.content).join(', ')}`,
  );
  if (head) return;
  const [type, { schema, 'x-line-schema': lineSchema }] = media;
  if (mediaType(type).type === 'application/json') {
    assert.ok(answer.json !== undefined, `${what}: the body is JSON`);
    if (schema) schemas.check(schema, answer.json, `${what}: body`);
    const codes = response['x-error-codes'];
    if (codes) {
      const code = (answer.json as { error: { code: string } }).error.code;
      assert.ok((codes as string[]).includes(code), `${what}: ${code} is not among ${codes.join(', ')}`);
    }
  }
  if (lineSchema) {
    for (const line of answer.text.split('\n').filter((l) => l !== '')) {
      schemas.check(lineSchema, JSON.parse(line), `${what}: line`);
    }
  }
}

/** A uWS route pattern as an OpenAPI path: `:id` → `{id}`, a trailing `*` (a key) → `{key}`. */
export function pathOfPattern(pattern: string): string {
  return pattern.replace(/:(\w+)/g, '{$1}').replace(/\/\*$/, '/{key}');
}

/** Route registrations: `app.get(`, `router.del(`, `app.ws<…>(` and so on. */
const REGISTRATION = /\b(?:app|router)\.(get|head|put|post|del|ws)(?:<[^>]*>)?\(\s*([^,)\s]+)/g;

/**
 * Every `METHOD path` the server registers, read from the source at test time: each call
 * registering a route in src/ (a GET also answers HEAD: the router's `finish()` adds it;
 * a WebSocket route is a GET upgrade, with no HEAD). A pattern given as a variable must come
 * from a `for (const x of ['…', …])` in the same file, or the scan fails: it never skips a
 * registration it cannot read. router.ts is left out: it forwards registrations, it makes none.
 */
export function registeredRoutes(srcDir: string): Set<string> {
  const routes = new Set<string>();
  const files = readdirSync(srcDir, { recursive: true, encoding: 'utf8' }).filter(
    (f) => f.endsWith('.ts') && !f.endsWith('http/router.ts'),
  );
  for (const file of files) {
    const text = readFileSync(join(srcDir, file), 'utf8');
    for (const [, method, argument] of text.matchAll(REGISTRATION)) {
      for (const pattern of patternsOf(argument!, text, file)) {
        const path = pathOfPattern(pattern);
        if (method === 'ws') routes.add(`GET ${path}`);
        else {
          routes.add(`${method === 'del' ? 'DELETE' : method!.toUpperCase()} ${path}`);
          if (method === 'get') routes.add(`HEAD ${path}`);
        }
      }
    }
  }
  return routes;
}

/** The patterns a registration's first argument stands for. */
function patternsOf(argument: string, text: string, file: string): string[] {
  const literal = /^'([^']*)'$/.exec(argument);
  if (literal) return [literal[1]!];
  const loop = new RegExp(`for \\(const ${argument} of \\[([^\\]]*)\\]\\)`).exec(text);
  assert.ok(loop, `${file}: cannot tell which route "${argument}" registers; give the pattern as a literal`);
  return [...loop[1]!.matchAll(/'([^']*)'/g)].map((m) => m[1]!);
}
