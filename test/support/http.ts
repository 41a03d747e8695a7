/** A small HTTP client for tests that checks every response it is asked to against the OpenAPI definitions. */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { validateResponse } from "./openapi";

/**
 * Any endpoint may answer with the spec's standard error body (Client-Server API, "Standard error
 * response"), documented per endpoint or not; every other response must match its definition.
 */
function checkAgainstSpec(method: string, path: string, status: number, body: unknown): void {
  const problems = validateResponse({ method, path, status, body });
  if (problems.length === 0) return;
  const undocumentedError = status >= 400 && problems.every((problem) => problem.startsWith(`status ${status} not documented`));
  if (undocumentedError) {
    const error = body as { errcode?: unknown; error?: unknown };
    assert.equal(typeof error.errcode, "string", `${method} ${path} ${status}: errcode must be a string`);
    assert.match(error.errcode as string, /^M_[A-Z_]+$/, `${method} ${path} ${status}: errcode`);
    return;
  }
  assert.fail(`Response to ${method} ${path} (${status}) does not match the Matrix spec:\n  - ${problems.join("\n  - ")}\n${JSON.stringify(body)}`);
}

/** Every response body may be the spec's standard error instead of the success shape. */
export type WithError<T> = T & { errcode?: string; error?: string };

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  body: WithError<T>;
  headers: Headers;
}

export interface RequestOptions {
  token?: string;
  /** A raw body sent as-is (for malformed-JSON tests); otherwise `body` is JSON-encoded. */
  rawBody?: string;
  headers?: Record<string, string>;
  /** Check the response against the spec's OpenAPI definition (default true). */
  checkSpec?: boolean;
}

export class TestClient {
  /**
   * `baseUrl` may be a function, read at each request: useTestHomeserver hands out its client when the
   * test file loads, before the server has started.
   */
  constructor(private readonly baseUrl: string | (() => string)) {}

  async request<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    options: RequestOptions = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let payload: string | undefined = options.rawBody;
    if (payload === undefined && body !== undefined) payload = JSON.stringify(body);
    if (payload !== undefined) headers["content-type"] ??= "application/json";
    const baseUrl = typeof this.baseUrl === "string" ? this.baseUrl : this.baseUrl();
    const response = await fetch(baseUrl + path, { method, headers, body: payload });
    const text = await response.text();
    let parsed: unknown = text;
    if ((response.headers.get("content-type") ?? "").includes("json")) parsed = JSON.parse(text);
    if (options.checkSpec !== false && response.status < 500) {
      checkAgainstSpec(method, path, response.status, parsed);
    }
    return { status: response.status, body: parsed as WithError<T>, headers: response.headers };
  }

  get<T = Record<string, unknown>>(path: string, options?: RequestOptions) {
    return this.request<T>("GET", path, undefined, options);
  }
  post<T = Record<string, unknown>>(path: string, body?: unknown, options?: RequestOptions) {
    return this.request<T>("POST", path, body, options);
  }
  put<T = Record<string, unknown>>(path: string, body?: unknown, options?: RequestOptions) {
    return this.request<T>("PUT", path, body, options);
  }
  delete<T = Record<string, unknown>>(path: string, body?: unknown, options?: RequestOptions) {
    return this.request<T>("DELETE", path, body, options);
  }

  /** Registers through UIA (m.login.dummy) and returns the login response. */
  async register(username: string, password: string, extra: Record<string, unknown> = {}) {
    const response = await this.post<{ user_id: string; access_token: string; device_id: string }>(
      "/_matrix/client/v3/register",
      { username, password, auth: { type: "m.login.dummy" }, ...extra },
    );
    if (response.status !== 200) throw new Error(`register ${username}: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body;
  }

  /** Logs in with a password (a new device) and returns the login response. */
  async login(username: string, password: string) {
    const response = await this.post<{ user_id: string; access_token: string; device_id: string }>("/_matrix/client/v3/login", {
      type: "m.login.password",
      identifier: { type: "m.id.user", user: username },
      password,
    });
    if (response.status !== 200) throw new Error(`login ${username}: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body;
  }
}

let counter = 0;
/** A username no other test in this run uses (tests may share a Postgres). */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}${counter}_${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
}

/** Synapse's shared-secret registration (nonce, then HMAC-SHA1), which the homeserver supports for admins and scripts. */
export async function sharedSecretRegister(
  client: TestClient,
  secret: string,
  fields: { username: string; password: string; admin?: boolean },
) {
  const { body } = await client.get<{ nonce: string }>("/_synapse/admin/v1/register", { checkSpec: false });
  const mac = createHmac("sha1", secret)
    .update([body.nonce, fields.username, fields.password, fields.admin ? "admin" : "notadmin"].join("\x00"))
    .digest("hex");
  return client.post<{ user_id: string; access_token: string; device_id: string }>(
    "/_synapse/admin/v1/register",
    { nonce: body.nonce, ...fields, mac },
    { checkSpec: false },
  );
}
