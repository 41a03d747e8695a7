/**
 * Test support: validate HTTP responses against the official Matrix OpenAPI
 * definitions (matrix-spec checkout at `<repo>/../shared/matrix-spec`).
 *
 * - Loads `data/api/<api>/*.yaml`, indexes every operation by its full path
 *   template (server `basePath` + path key), e.g. `/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}`.
 * - Resolves `$ref`s itself (relative files across directories, JSON pointers,
 *   `#/components/...`), inlining them into one self-contained JSON Schema.
 *   Recursive references are emitted as `$ref: "#/$defs/..."` so Ajv can
 *   handle cycles.
 * - Strips annotation-only keywords (`example`, `examples`, `x-*`,
 *   `description`, `$schema`, `$id`, ...) and rewrites OpenAPI-3.0 `nullable`.
 *   `additionalProperties` is kept exactly as written.
 * - Validates with Ajv (JSON Schema 2020-12 dialect, strict: false,
 *   allErrors: true, ajv-formats + the Matrix `mx-*` formats).
 *
 * The spec location can be overridden with the MATRIX_SPEC_DIR env variable.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { AssertionError } from "node:assert";
import { parse as parseYaml } from "yaml";
import Ajv2020 from "ajv/dist/2020.js";
import type { ErrorObject, ValidateFunction } from "ajv";
import addFormats from "ajv-formats";

// ---------------------------------------------------------------------------
// Types

export type SpecApi = "client-server" | "server-server" | "application-service";

export interface ValidateResponseArgs {
  /** Which API to look in. Inferred from the path prefix when omitted. */
  api?: SpecApi;
  method: string;
  /** Concrete request path (may include query string or a full URL). */
  path: string;
  status: number;
  body: unknown;
}

export interface MatchedOperation {
  api: SpecApi;
  method: string;
  /** Path key as written in the yaml, e.g. `/rooms/{roomId}/state`. */
  pathTemplate: string;
  /** Server base path + path key, e.g. `/_matrix/client/v3/rooms/{roomId}/state`. */
  fullTemplate: string;
  /** Absolute path of the yaml file defining the operation. */
  file: string;
  operationId: string | undefined;
  /** Decoded path parameters. */
  params: Record<string, string>;
  /** Documented response status keys (e.g. "200", "4XX", "default"). */
  statuses: string[];
}

type Obj = Record<string, unknown>;

interface Located {
  value: unknown;
  file: string;
  pointer: string;
}

interface OperationEntry {
  api: SpecApi;
  method: string;
  pathTemplate: string;
  fullTemplate: string;
  segments: SegmentMatcher[];
  file: string;
  pointer: string;
  operation: Obj;
}

interface SegmentMatcher {
  literal: string | undefined;
  regex: RegExp | undefined;
  names: string[];
}

// ---------------------------------------------------------------------------
// Locations

const HERE = dirname(fileURLToPath(import.meta.url));
/** Repository root: test/support/ is two levels below it. */
const REPO_ROOT = resolve(HERE, "..", "..");

export const SPEC_ROOT: string = resolve(
  process.env["MATRIX_SPEC_DIR"] ?? resolve(REPO_ROOT, "..", "shared", "matrix-spec"),
);

function apiDir(api: SpecApi): string {
  return join(SPEC_ROOT, "data", "api", api);
}

const HTTP_METHODS = ["get", "put", "post", "delete", "patch", "head", "options"] as const;

// ---------------------------------------------------------------------------
// Small helpers

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function displayFile(file: string): string {
  return relative(join(SPEC_ROOT, "data"), file) || file;
}

function escapePointerToken(t: string): string {
  return t.replace(/~/g, "~0").replace(/\//g, "~1");
}

function preview(value: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

// ---------------------------------------------------------------------------
// File loading + $ref resolution

const fileCache = new Map<string, unknown>();

function loadFile(file: string): unknown {
  const cached = fileCache.get(file);
  if (cached !== undefined || fileCache.has(file)) return cached;
  if (!existsSync(file)) {
    throw new Error(`matrix-spec file not found: ${file}`);
  }
  const text = readFileSync(file, "utf8");
  let doc: unknown;
  try {
    doc = file.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new Error(`failed to parse ${displayFile(file)}: ${errMessage(err)}`);
  }
  fileCache.set(file, doc);
  return doc;
}

function getPointer(doc: unknown, pointer: string, file: string): unknown {
  if (pointer === "" || pointer === "/") return doc;
  if (!pointer.startsWith("/")) {
    throw new Error(`unsupported JSON pointer "${pointer}" in ${displayFile(file)}`);
  }
  let cur: unknown = doc;
  for (const raw of pointer.slice(1).split("/")) {
    let token = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    try {
      token = decodeURIComponent(token);
    } catch {
      /* keep raw token */
    }
    if (Array.isArray(cur)) {
      cur = cur[Number(token)];
    } else if (isObj(cur)) {
      cur = cur[token];
    } else {
      cur = undefined;
    }
    if (cur === undefined) {
      throw new Error(`JSON pointer "${pointer}" not found in ${displayFile(file)}`);
    }
  }
  return cur;
}

/** Resolve a `$ref` string relative to the file containing it. */
function deref(ref: string, fromFile: string): Located {
  const hash = ref.indexOf("#");
  const filePart = hash === -1 ? ref : ref.slice(0, hash);
  const pointer = hash === -1 ? "" : ref.slice(hash + 1);
  const file = filePart === "" ? fromFile : resolve(dirname(fromFile), filePart);
  const value = getPointer(loadFile(file), pointer, file);
  return { value, file, pointer };
}

/** Follow `$ref`s on a non-schema OpenAPI object (response, media type, example...). */
function followRefs(loc: Located): Located {
  let cur = loc;
  for (let i = 0; i < 32; i++) {
    if (!isObj(cur.value)) return cur;
    const ref = str(cur.value["$ref"]);
    if (ref === undefined) return cur;
    cur = deref(ref, cur.file);
  }
  throw new Error(`$ref chain too long at ${displayFile(loc.file)}#${loc.pointer}`);
}

/** Child without following `$ref` (schemas: `$ref` siblings must be kept). */
function rawChild(loc: Located, key: string): Located | undefined {
  if (!isObj(loc.value)) return undefined;
  const v = loc.value[key];
  if (v === undefined) return undefined;
  return { value: v, file: loc.file, pointer: `${loc.pointer}/${escapePointerToken(key)}` };
}

function child(loc: Located, key: string): Located | undefined {
  if (!isObj(loc.value)) return undefined;
  const v = loc.value[key];
  if (v === undefined) return undefined;
  return followRefs({ value: v, file: loc.file, pointer: `${loc.pointer}/${escapePointerToken(key)}` });
}

// ---------------------------------------------------------------------------
// Schema inlining

/** Keywords whose value is a map of name -> schema. */
const SCHEMA_MAP_KEYWORDS = new Set(["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"]);
/** Keywords whose value is a single schema. */
const SCHEMA_KEYWORDS = new Set([
  "additionalProperties",
  "items",
  "contains",
  "not",
  "if",
  "then",
  "else",
  "propertyNames",
  "unevaluatedItems",
  "unevaluatedProperties",
  "additionalItems",
  "contentSchema",
]);
/** Keywords whose value is an array of schemas. */
const SCHEMA_ARRAY_KEYWORDS = new Set(["allOf", "anyOf", "oneOf", "prefixItems"]);
/** Annotation-only keywords that are dropped. */
const DROPPED_KEYWORDS = new Set([
  "example",
  "examples",
  "description",
  "title",
  "$schema",
  "$id",
  "$comment",
  "deprecated",
  "externalDocs",
  "xml",
  "discriminator",
  "readOnly",
  "writeOnly",
  "nullable",
]);

interface InlineContext {
  /** ref key -> def name, for references found to be recursive. */
  recursive: Map<string, string>;
  defs: Map<string, unknown>;
  formats: Set<string>;
}

function refKey(loc: Located): string {
  return `${loc.file}#${loc.pointer}`;
}

function defName(ctx: InlineContext, key: string): string {
  const existing = ctx.recursive.get(key);
  if (existing !== undefined) return existing;
  const [file = "", pointer = ""] = key.split("#");
  const base = `${displayFile(file)}${pointer}`.replace(/[^A-Za-z0-9_.-]+/g, "_");
  const name = `${base}_${ctx.recursive.size}`;
  ctx.recursive.set(key, name);
  return name;
}

function inlineSchema(node: unknown, file: string, pointer: string, stack: string[], ctx: InlineContext): unknown {
  if (typeof node === "boolean") return node;
  if (!isObj(node)) return node; // malformed; let Ajv complain
  const ref = str(node["$ref"]);
  if (ref !== undefined) {
    const target = deref(ref, file);
    const key = refKey(target);
    let resolved: unknown;
    if (stack.includes(key)) {
      resolved = { $ref: `#/$defs/${defName(ctx, key)}` };
    } else {
      resolved = inlineSchema(target.value, target.file, target.pointer, [...stack, key], ctx);
    }
    const siblings: Obj = {};
    let hasSiblings = false;
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" || DROPPED_KEYWORDS.has(k) || k.startsWith("x-")) continue;
      siblings[k] = v;
      hasSiblings = true;
    }
    if (!hasSiblings) return resolved;
    // JSON Schema 2020-12 semantics: $ref applies together with its siblings.
    return { allOf: [resolved, inlineSchema(siblings, file, pointer, stack, ctx)] };
  }

  const out: Obj = {};
  for (const [k, v] of Object.entries(node)) {
    if (DROPPED_KEYWORDS.has(k) || k.startsWith("x-")) continue;
    const p = `${pointer}/${escapePointerToken(k)}`;
    if (SCHEMA_MAP_KEYWORDS.has(k) && isObj(v)) {
      const m: Obj = {};
      for (const [name, sub] of Object.entries(v)) {
        m[name] = inlineSchema(sub, file, `${p}/${escapePointerToken(name)}`, stack, ctx);
      }
      out[k] = m;
    } else if (SCHEMA_ARRAY_KEYWORDS.has(k) && Array.isArray(v)) {
      out[k] = v.map((sub, i) => inlineSchema(sub, file, `${p}/${i}`, stack, ctx));
    } else if (k === "items" && Array.isArray(v)) {
      // draft-04..07 tuple form -> 2020-12 prefixItems
      out["prefixItems"] = v.map((sub, i) => inlineSchema(sub, file, `${p}/${i}`, stack, ctx));
    } else if (SCHEMA_KEYWORDS.has(k)) {
      out[k] = inlineSchema(v, file, p, stack, ctx);
    } else if (k === "required" && !Array.isArray(v)) {
      continue; // swagger-2 style `required: true` on a property: meaningless here
    } else {
      if (k === "format" && typeof v === "string") ctx.formats.add(v);
      out[k] = v;
    }
  }
  // OpenAPI 3.0 `nullable: true` -> add "null" to the type list.
  if (node["nullable"] === true) {
    const t = out["type"];
    if (typeof t === "string") out["type"] = [t, "null"];
    else if (Array.isArray(t) && !t.includes("null")) out["type"] = [...t, "null"];
  }
  return out;
}

/** Produce one self-contained JSON Schema (plus the formats it uses). */
function buildSchema(loc: Located): { schema: unknown; formats: Set<string> } {
  const ctx: InlineContext = { recursive: new Map(), defs: new Map(), formats: new Set() };
  const rootKey = refKey(loc);
  const root = inlineSchema(loc.value, loc.file, loc.pointer, [rootKey], ctx);
  // Materialise definitions for every recursive target (may discover more).
  let pending = [...ctx.recursive.keys()].filter((k) => !ctx.defs.has(k));
  while (pending.length > 0) {
    for (const key of pending) {
      const hash = key.indexOf("#");
      const file = key.slice(0, hash);
      const pointer = key.slice(hash + 1);
      const value = getPointer(loadFile(file), pointer, file);
      ctx.defs.set(key, inlineSchema(value, file, pointer, [key], ctx));
    }
    pending = [...ctx.recursive.keys()].filter((k) => !ctx.defs.has(k));
  }
  if (ctx.defs.size === 0) return { schema: root, formats: ctx.formats };
  const $defs: Obj = {};
  for (const [key, def] of ctx.defs) $defs[defName(ctx, key)] = def;
  return { schema: { $defs, allOf: [root] }, formats: ctx.formats };
}

// ---------------------------------------------------------------------------
// Example resolution (examples use `$ref` + sibling-override merge semantics)

function resolveExampleValue(node: unknown, file: string, depth = 0): unknown {
  if (depth > 64) throw new Error(`example $ref nesting too deep in ${displayFile(file)}`);
  if (Array.isArray(node)) return node.map((v) => resolveExampleValue(v, file, depth + 1));
  if (!isObj(node)) return node;
  const ref = str(node["$ref"]);
  let base: Obj = {};
  if (ref !== undefined) {
    const target = deref(ref, file);
    const resolved = resolveExampleValue(target.value, target.file, depth + 1);
    if (!isObj(resolved)) {
      if (Object.keys(node).length === 1) return resolved;
    } else {
      base = { ...resolved };
    }
  }
  for (const [k, v] of Object.entries(node)) {
    if (k === "$ref") continue;
    base[k] = resolveExampleValue(v, file, depth + 1);
  }
  return base;
}

// ---------------------------------------------------------------------------
// Operation index

interface ApiIndex {
  operations: OperationEntry[];
  loadErrors: string[];
}

const indexCache = new Map<SpecApi, ApiIndex>();

function serverBasePaths(servers: unknown): string[] {
  if (!Array.isArray(servers) || servers.length === 0) return [""];
  const out = new Set<string>();
  for (const server of servers) {
    if (!isObj(server)) continue;
    const url = str(server["url"]);
    if (url === undefined) continue;
    const vars = isObj(server["variables"]) ? server["variables"] : {};
    // Expand each variable over its default + enum values.
    let expansions = [url];
    for (const [name, def] of Object.entries(vars)) {
      if (!isObj(def)) continue;
      const values = new Set<string>();
      const d = str(def["default"]);
      if (d !== undefined) values.add(d);
      if (Array.isArray(def["enum"])) for (const e of def["enum"]) if (typeof e === "string") values.add(e);
      if (values.size === 0) continue;
      expansions = expansions.flatMap((u) => [...values].map((v) => u.split(`{${name}}`).join(v)));
    }
    for (const expanded of expansions) {
      let pathname: string;
      if (expanded.startsWith("/")) pathname = expanded;
      else {
        try {
          pathname = new URL(expanded).pathname;
        } catch {
          continue;
        }
      }
      out.add(pathname.replace(/\/+$/, ""));
    }
  }
  return out.size > 0 ? [...out] : [""];
}

function compileSegments(fullTemplate: string): SegmentMatcher[] {
  return fullTemplate
    .split("/")
    .slice(1)
    .map((seg): SegmentMatcher => {
      if (!seg.includes("{")) return { literal: seg, regex: undefined, names: [] };
      const names: string[] = [];
      let src = "^";
      let last = 0;
      for (const m of seg.matchAll(/\{([^}]+)\}/g)) {
        src += seg.slice(last, m.index).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        src += "([^/]*)";
        names.push(m[1] ?? "");
        last = (m.index ?? 0) + m[0].length;
      }
      src += `${seg.slice(last).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`;
      return { literal: undefined, regex: new RegExp(src), names };
    });
}

function loadApiIndex(api: SpecApi): ApiIndex {
  const cached = indexCache.get(api);
  if (cached) return cached;
  const dir = apiDir(api);
  if (!existsSync(dir)) {
    throw new Error(
      `Matrix spec not found at ${dir}. Expected the matrix-spec checkout at <repo>/../shared/matrix-spec ` +
        `(or set MATRIX_SPEC_DIR).`,
    );
  }
  const operations: OperationEntry[] = [];
  const loadErrors: string[] = [];
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"))
    .sort();
  for (const name of files) {
    const file = join(dir, name);
    let doc: unknown;
    try {
      doc = loadFile(file);
    } catch (err) {
      loadErrors.push(errMessage(err));
      continue;
    }
    if (!isObj(doc) || !isObj(doc["paths"])) continue;
    for (const [pathKey, rawItem] of Object.entries(doc["paths"])) {
      let item: Located;
      try {
        item = followRefs({ value: rawItem, file, pointer: `/paths/${escapePointerToken(pathKey)}` });
      } catch (err) {
        loadErrors.push(errMessage(err));
        continue;
      }
      if (!isObj(item.value)) continue;
      for (const method of HTTP_METHODS) {
        const op = item.value[method];
        if (!isObj(op)) continue;
        const servers = op["servers"] ?? item.value["servers"] ?? doc["servers"];
        for (const base of serverBasePaths(servers)) {
          const fullTemplate = `${base}${pathKey}`;
          operations.push({
            api,
            method: method.toUpperCase(),
            pathTemplate: pathKey,
            fullTemplate,
            segments: compileSegments(fullTemplate),
            file: item.file,
            pointer: `${item.pointer}/${method}`,
            operation: op,
          });
        }
      }
    }
  }
  const index: ApiIndex = { operations, loadErrors };
  indexCache.set(api, index);
  return index;
}

/** Load (and cache) the operation index of one or all APIs. Returns the number of operations. */
export function preloadSpec(apis: SpecApi[] = ["client-server", "server-server", "application-service"]): number {
  let n = 0;
  for (const api of apis) n += loadApiIndex(api).operations.length;
  return n;
}

// ---------------------------------------------------------------------------
// Path matching

function inferApi(path: string): SpecApi {
  if (path.startsWith("/_matrix/federation/") || path.startsWith("/_matrix/key/")) return "server-server";
  if (path.startsWith("/.well-known/matrix/server")) return "server-server";
  if (path.startsWith("/_matrix/app/")) return "application-service";
  return "client-server";
}

function normalizePath(rawPath: string): string {
  let p = rawPath;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p)) {
    try {
      p = new URL(p).pathname;
    } catch {
      /* keep as is */
    }
  }
  p = p.split("#")[0] ?? p;
  p = p.split("?")[0] ?? p;
  if (!p.startsWith("/")) p = `/${p}`;
  // Legacy r0 endpoints are the same as v3.
  p = p.replace(/^\/_matrix\/(client|media)\/r0(?=\/|$)/, "/_matrix/$1/v3");
  return p;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

interface Candidate {
  entry: OperationEntry;
  params: Record<string, string>;
  /** Per segment: 2 = literal, 1 = non-empty param, 0 = empty param. Compared lexicographically. */
  score: number[];
}

function matchEntry(entry: OperationEntry, segs: string[]): Candidate | undefined {
  if (entry.segments.length !== segs.length) return undefined;
  const params: Record<string, string> = {};
  const score: number[] = [];
  for (let i = 0; i < segs.length; i++) {
    const m = entry.segments[i];
    const s = segs[i];
    if (m === undefined || s === undefined) return undefined;
    if (m.literal !== undefined) {
      if (m.literal !== s && m.literal !== safeDecode(s)) return undefined;
      score.push(2);
      continue;
    }
    const res = m.regex?.exec(s);
    if (!res) return undefined;
    m.names.forEach((name, j) => {
      params[name] = safeDecode(res[j + 1] ?? "");
    });
    score.push(s === "" ? 0 : 1);
  }
  return { entry, params, score };
}

function compareScore(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function findCandidates(api: SpecApi, path: string): Candidate[] {
  const segs = path.split("/").slice(1);
  const out: Candidate[] = [];
  for (const entry of loadApiIndex(api).operations) {
    const c = matchEntry(entry, segs);
    if (c) out.push(c);
  }
  return out.sort((a, b) => compareScore(b.score, a.score));
}

function statusKeys(op: Obj): string[] {
  return isObj(op["responses"]) ? Object.keys(op["responses"]) : [];
}

function toMatched(c: Candidate): MatchedOperation {
  return {
    api: c.entry.api,
    method: c.entry.method,
    pathTemplate: c.entry.pathTemplate,
    fullTemplate: c.entry.fullTemplate,
    file: c.entry.file,
    operationId: str(c.entry.operation["operationId"]),
    params: c.params,
    statuses: statusKeys(c.entry.operation),
  };
}

type FindResult = { ok: true; candidate: Candidate } | { ok: false; error: string };

function findOperation(api: SpecApi, method: string, rawPath: string): FindResult {
  const path = normalizePath(rawPath);
  const m = method.toUpperCase();
  let candidates = findCandidates(api, path);
  // `/rooms/{roomId}/state/{eventType}` is commonly requested without the
  // trailing slash that an empty `{stateKey}` would produce.
  if (candidates.length === 0 && !path.endsWith("/")) candidates = findCandidates(api, `${path}/`);
  if (candidates.length === 0) {
    return { ok: false, error: `no ${api} OpenAPI path matches ${m} ${path}` };
  }
  const withMethod = candidates.filter((c) => c.entry.method === m);
  const best = withMethod[0];
  if (best === undefined) {
    const templates = [...new Set(candidates.map((c) => c.entry.fullTemplate))].join(", ");
    const methods = [...new Set(candidates.map((c) => c.entry.method))].join(", ");
    return { ok: false, error: `method ${m} not documented for ${templates} (documented: ${methods})` };
  }
  return { ok: true, candidate: best };
}

/** Find the documented operation for a concrete request, or undefined. */
export function matchOperation(args: { api?: SpecApi; method: string; path: string }): MatchedOperation | undefined {
  const api = args.api ?? inferApi(normalizePath(args.path));
  const r = findOperation(api, args.method, args.path);
  return r.ok ? toMatched(r.candidate) : undefined;
}

// ---------------------------------------------------------------------------
// Response lookup

function pickResponse(entry: OperationEntry, status: number): { key: string; loc: Located } | undefined {
  const responses = child({ value: entry.operation, file: entry.file, pointer: entry.pointer }, "responses");
  if (!responses || !isObj(responses.value)) return undefined;
  const keys = [String(status), `${Math.floor(status / 100)}XX`, `${Math.floor(status / 100)}xx`, "default"];
  for (const key of keys) {
    const loc = child(responses, key);
    if (loc) return { key, loc };
  }
  return undefined;
}

function pickJsonMedia(response: Located): { mediaType: string; loc: Located } | "no-content" | "non-json" {
  const content = child(response, "content");
  if (!content || !isObj(content.value) || Object.keys(content.value).length === 0) return "no-content";
  const types = Object.keys(content.value);
  const json =
    types.find((t) => t === "application/json") ??
    types.find((t) => /[/+]json\b/.test(t)) ??
    types.find((t) => t === "*/*");
  if (json === undefined) return "non-json";
  const loc = child(content, json);
  return loc ? { mediaType: json, loc } : "no-content";
}

// ---------------------------------------------------------------------------
// Ajv

const MATRIX_FORMATS: Record<string, RegExp> = {
  "mx-user-id": /^@[^:]+:.+$/s,
  "mx-room-id": /^!.+$/s,
  "mx-event-id": /^\$.+$/s,
  "mx-room-alias": /^#.+:.+$/s,
  "mx-server-name": /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/,
  "mx-mxc-uri": /^mxc:\/\/[^/]+\/.+$/s,
  "mx-unpadded-base64": /^[A-Za-z0-9+/]*$/,
  "mx-urlsafe-unpadded-base64": /^[A-Za-z0-9_-]*$/,
};

let ajvInstance: Ajv2020 | undefined;
const knownFormats = new Set<string>();

function getAjv(): Ajv2020 {
  if (ajvInstance) return ajvInstance;
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  for (const name of Object.keys(ajv.formats)) knownFormats.add(name);
  for (const [name, re] of Object.entries(MATRIX_FORMATS)) {
    ajv.addFormat(name, { type: "string", validate: re });
    knownFormats.add(name);
  }
  ajvInstance = ajv;
  return ajv;
}

function ensureFormats(ajv: Ajv2020, formats: Set<string>): void {
  for (const f of formats) {
    if (knownFormats.has(f)) continue;
    // Unknown formats are annotations only.
    ajv.addFormat(f, true);
    knownFormats.add(f);
  }
}

const validatorCache = new Map<string, ValidateFunction | Error>();

function getValidator(cacheKey: string, loc: Located): ValidateFunction | Error {
  const cached = validatorCache.get(cacheKey);
  if (cached) return cached;
  let result: ValidateFunction | Error;
  try {
    const { schema, formats } = buildSchema(loc);
    const ajv = getAjv();
    ensureFormats(ajv, formats);
    if (typeof schema !== "boolean" && !isObj(schema)) throw new Error("schema is not an object");
    result = ajv.compile(schema);
  } catch (err) {
    result = err instanceof Error ? err : new Error(String(err));
  }
  validatorCache.set(cacheKey, result);
  return result;
}

function valueAt(body: unknown, instancePath: string): unknown {
  if (instancePath === "") return body;
  let cur: unknown = body;
  for (const raw of instancePath.slice(1).split("/")) {
    const t = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isObj(cur)) cur = cur[t];
    else return undefined;
  }
  return cur;
}

function formatAjvError(e: ErrorObject, body: unknown): string {
  const where = e.instancePath === "" ? "(root)" : e.instancePath;
  let msg = `${where} ${e.message ?? e.keyword}`;
  const params: Obj = e.params;
  if (e.keyword === "enum" && Array.isArray(params["allowedValues"])) {
    msg += ` ${preview(params["allowedValues"])}`;
  } else if (e.keyword === "oneOf" && Array.isArray(params["passingSchemas"])) {
    msg += ` (branches ${params["passingSchemas"].join(" and ")} both match)`;
  } else if (e.keyword === "additionalProperties" && typeof params["additionalProperty"] === "string") {
    msg += ` (${JSON.stringify(params["additionalProperty"])})`;
  }
  if (e.keyword !== "required" && e.keyword !== "additionalProperties") {
    const v = valueAt(body, e.instancePath);
    if (v !== undefined) msg += ` (got ${preview(v)})`;
  }
  return msg;
}

// ---------------------------------------------------------------------------
// Public API

/**
 * Validate a response body against the documented schema.
 * Returns human-readable errors; an empty list means the response matches.
 */
export function validateResponse(args: ValidateResponseArgs): string[] {
  const path = normalizePath(args.path);
  const api = args.api ?? inferApi(path);
  const method = args.method.toUpperCase();
  let found: FindResult;
  try {
    found = findOperation(api, method, path);
  } catch (err) {
    return [`failed to load ${api} spec: ${errMessage(err)}`];
  }
  if (!found.ok) return [found.error];
  const { entry } = found.candidate;
  const label = `${method} ${entry.fullTemplate}`;

  let picked: ReturnType<typeof pickResponse>;
  try {
    picked = pickResponse(entry, args.status);
  } catch (err) {
    return [`${label}: failed to resolve responses: ${errMessage(err)}`];
  }
  if (!picked) {
    const documented = statusKeys(entry.operation).join(", ") || "none";
    return [`status ${args.status} not documented for ${label} (documented: ${documented})`];
  }

  let media: ReturnType<typeof pickJsonMedia>;
  try {
    media = pickJsonMedia(picked.loc);
  } catch (err) {
    return [`${label} ${picked.key}: failed to resolve response: ${errMessage(err)}`];
  }
  if (media === "no-content" || media === "non-json") return [];
  const schemaLoc = rawChild(media.loc, "schema");
  if (!schemaLoc) return [];

  const cacheKey = `${api} ${method} ${entry.fullTemplate} ${picked.key} ${media.mediaType}`;
  const validate = getValidator(cacheKey, schemaLoc);
  if (validate instanceof Error) {
    return [
      `${label} ${picked.key}: could not compile response schema from ${displayFile(entry.file)}: ${validate.message}`,
    ];
  }
  if (validate(args.body)) return [];
  const errors = (validate.errors ?? []).map(
    (e) => `${label} ${picked.key}: ${formatAjvError(e, args.body)}`,
  );
  return errors.length > 0 ? [...new Set(errors)] : [`${label} ${picked.key}: body does not match schema`];
}

/** Throws an AssertionError listing every mismatch if the response does not match the spec. */
export function assertMatchesSpec(args: ValidateResponseArgs): void {
  const errors = validateResponse(args);
  if (errors.length === 0) return;
  throw new AssertionError({
    message:
      `Response to ${args.method.toUpperCase()} ${args.path} (${args.status}) does not match the Matrix spec:\n` +
      errors.map((e) => `  - ${e}`).join("\n"),
    actual: args.body,
    expected: undefined,
    operator: "assertMatchesSpec",
  });
}

/**
 * The documented response examples (`examples.*.value` and `example`) for an
 * operation, with example `$ref`s resolved (sibling keys override the
 * referenced object, as in the spec's renderer). `path` may be a concrete
 * path or a full template like `/_matrix/client/v3/devices/{deviceId}`.
 */
export function getResponseExamples(args: {
  api?: SpecApi;
  method: string;
  path: string;
  status: number;
}): unknown[] {
  const path = normalizePath(args.path);
  const api = args.api ?? inferApi(path);
  const m = args.method.toUpperCase();
  const entry =
    loadApiIndex(api).operations.find((e) => e.method === m && e.fullTemplate === path) ??
    (() => {
      const r = findOperation(api, m, path);
      return r.ok ? r.candidate.entry : undefined;
    })();
  if (!entry) throw new Error(`no ${api} operation for ${m} ${path}`);
  const picked = pickResponse(entry, args.status);
  if (!picked) throw new Error(`status ${args.status} not documented for ${m} ${entry.fullTemplate}`);
  const media = pickJsonMedia(picked.loc);
  if (typeof media === "string") return [];
  const out: unknown[] = [];
  const examples = child(media.loc, "examples");
  if (examples && isObj(examples.value)) {
    for (const name of Object.keys(examples.value)) {
      const ex = child(examples, name);
      if (!ex || !isObj(ex.value) || !("value" in ex.value)) continue;
      out.push(resolveExampleValue(ex.value["value"], ex.file));
    }
  }
  const example = child(media.loc, "example");
  if (example) out.push(resolveExampleValue(example.value, example.file));
  return out;
}

/**
 * Validate any value against a standalone schema file of the spec, e.g.
 * `event-schemas/schema/m.room.member.yaml` (relative to `<spec>/data`, or an
 * absolute path), optionally at a JSON pointer (`"/components/schemas/x"`).
 */
export function validateAgainstSchema(schemaFile: string, value: unknown, pointer = ""): string[] {
  const file = resolve(join(SPEC_ROOT, "data"), schemaFile);
  let loc: Located;
  try {
    loc = { value: getPointer(loadFile(file), pointer, file), file, pointer };
  } catch (err) {
    return [`failed to load ${schemaFile}: ${errMessage(err)}`];
  }
  const validate = getValidator(`file ${file}#${pointer}`, loc);
  const label = `${displayFile(file)}${pointer ? `#${pointer}` : ""}`;
  if (validate instanceof Error) return [`${label}: could not compile schema: ${validate.message}`];
  if (validate(value)) return [];
  return [...new Set((validate.errors ?? []).map((e) => `${label}: ${formatAjvError(e, value)}`))];
}

/**
 * Load an example file of the spec (e.g. `event-schemas/examples/m.room.member.yaml`,
 * relative to `<spec>/data` or absolute) with its `$ref`s resolved.
 */
export function loadSpecExample(exampleFile: string): unknown {
  const file = resolve(join(SPEC_ROOT, "data"), exampleFile);
  return resolveExampleValue(loadFile(file), file);
}

export interface SpecCheckFailure {
  api: SpecApi;
  method: string;
  fullTemplate: string;
  status: string;
  file: string;
  error: string;
}

/**
 * Diagnostic: compile every documented JSON response schema and validate every
 * documented example against it. Used to report spec files that can't be handled.
 */
export function checkAllSpecResponses(apis: SpecApi[] = ["client-server", "server-server", "application-service"]): {
  schemas: number;
  examples: number;
  compileFailures: SpecCheckFailure[];
  exampleFailures: SpecCheckFailure[];
} {
  let schemas = 0;
  let examples = 0;
  const compileFailures: SpecCheckFailure[] = [];
  const exampleFailures: SpecCheckFailure[] = [];
  for (const api of apis) {
    for (const entry of loadApiIndex(api).operations) {
      for (const statusKey of statusKeys(entry.operation)) {
        const fail = (error: string): SpecCheckFailure => ({
          api,
          method: entry.method,
          fullTemplate: entry.fullTemplate,
          status: statusKey,
          file: displayFile(entry.file),
          error,
        });
        const status = Number(statusKey);
        if (!Number.isInteger(status)) continue;
        try {
          const picked = pickResponse(entry, status);
          if (!picked) continue;
          const media = pickJsonMedia(picked.loc);
          if (typeof media === "string") continue;
          const schemaLoc = rawChild(media.loc, "schema");
          if (!schemaLoc) continue;
          schemas++;
          const cacheKey = `${api} ${entry.method} ${entry.fullTemplate} ${picked.key} ${media.mediaType}`;
          const v = getValidator(cacheKey, schemaLoc);
          if (v instanceof Error) {
            compileFailures.push(fail(v.message));
            continue;
          }
          for (const ex of getResponseExamples({ api, method: entry.method, path: entry.fullTemplate, status })) {
            examples++;
            if (!v(ex)) {
              exampleFailures.push(fail((v.errors ?? []).map((e) => formatAjvError(e, ex)).join("; ")));
            }
          }
        } catch (err) {
          compileFailures.push(fail(errMessage(err)));
        }
      }
    }
  }
  return { schemas, examples, compileFailures, exampleFailures };
}
