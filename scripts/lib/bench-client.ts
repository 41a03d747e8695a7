/**
 * The benchmark's Matrix client: plain HTTP/1.1 with keep-alive (node:http, lighter than fetch), to
 * loopback addresses only, with the few client-server endpoints the benchmark needs. Works against any
 * homeserver: open registration (UIA with m.login.dummy) or Synapse-style shared-secret registration.
 */
import { createHmac } from "node:crypto";
import { Agent, request as httpRequest } from "node:http";
import { performance } from "node:perf_hooks";

const V3 = "/_matrix/client/v3";
const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])$/;

export interface Reply<T> {
  status: number;
  body: T;
  /** Milliseconds from sending the request to the end of the response. */
  ms: number;
  /** performance.now() when the response ended. */
  endedAt: number;
}

export interface MatrixError {
  errcode?: string;
  error?: string;
  retry_after_ms?: number;
}

export interface User {
  userId: string;
  token: string;
}

export interface ClientEvent {
  event_id: string;
  type: string;
  sender: string;
  content: Record<string, unknown>;
  state_key?: string;
}

export interface SyncRoom {
  timeline?: { events?: ClientEvent[]; limited?: boolean; prev_batch?: string };
}

export interface SyncBody {
  next_batch: string;
  rooms?: { join?: Record<string, SyncRoom> };
}

export interface MessagesBody {
  chunk: ClientEvent[];
  start: string;
  end?: string;
}

export class BenchHttpError extends Error {
  constructor(
    readonly what: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`${what}: HTTP ${status} ${JSON.stringify(body).slice(0, 300)}`);
  }
}

/** Refuses any target that is not on this machine: the benchmark sends traffic to loopback only. */
export function loopbackUrl(text: string): URL {
  const url = new URL(text);
  if (url.protocol !== "http:") throw new Error(`${text}: only plain http:// on a loopback address is supported`);
  if (!LOOPBACK.test(url.hostname)) throw new Error(`${text}: the benchmark only targets loopback addresses (127.0.0.0/8, localhost, [::1])`);
  return url;
}

export interface ClientOptions {
  /** Synapse-style shared secret: register through /_synapse/admin/v1/register instead of open registration. */
  sharedSecret?: string;
  /** Reuse connections (HTTP/1.1 keep-alive, as browsers and fetch do); false opens one per request. Default true. */
  keepAlive?: boolean;
}

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

export class BenchClient {
  private readonly agent: Agent;
  private readonly base: URL;
  /** 429 answers that were waited out and retried. */
  throttled = 0;
  /** Requests retried because the server closed or reset a pooled keep-alive connection under them. */
  resets = 0;
  private txnCounter = 0;
  private readonly runId = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;

  constructor(
    baseUrl: string,
    private readonly options: ClientOptions = {},
  ) {
    this.base = loopbackUrl(baseUrl);
    this.agent = new Agent({ keepAlive: options.keepAlive ?? true, maxSockets: 256 });
  }

  close(): void {
    this.agent.destroy();
  }

  /** One request, timed; JSON bodies are parsed. */
  raw<T>(method: string, path: string, body?: unknown, token?: string, timeoutMs = 60_000): Promise<Reply<T>> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = {};
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (payload !== undefined) {
      headers["content-type"] = "application/json";
      headers["content-length"] = String(Buffer.byteLength(payload));
    }
    return new Promise<Reply<T>>((resolve, reject) => {
      const started = performance.now();
      const req = httpRequest(
        {
          agent: this.agent,
          host: this.base.hostname.replace(/^\[|\]$/g, ""),
          port: this.base.port || 80,
          method,
          path: this.base.pathname.replace(/\/$/, "") + path,
          headers,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("error", reject);
          res.on("end", () => {
            const endedAt = performance.now();
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown = text;
            if ((res.headers["content-type"] ?? "").includes("json") && text.length > 0) {
              try {
                parsed = JSON.parse(text);
              } catch {
                parsed = text;
              }
            }
            resolve({ status: res.statusCode ?? 0, body: parsed as T, ms: endedAt - started, endedAt });
          });
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
      req.on("error", reject);
      req.end(payload);
    });
  }

  /**
   * A request expected to succeed: 429 is waited out (as the server asks, a bounded number of times);
   * a keep-alive connection the server closed or reset under the request is retried, as HTTP clients
   * do (every request the benchmark makes is safe to repeat: sends carry transaction IDs, syncs the
   * same token); anything else but 200 throws.
   */
  async call<T>(what: string, method: string, path: string, body?: unknown, token?: string, timeoutMs?: number): Promise<Reply<T>> {
    let resets = 0;
    for (let attempt = 0; ; attempt++) {
      let reply: Reply<T | MatrixError>;
      try {
        reply = await this.raw<T | MatrixError>(method, path, body, token, timeoutMs);
      } catch (error) {
        if (resets++ < 5 && error instanceof Error && /ECONNRESET|socket hang up/.test(error.message)) {
          this.resets++;
          continue;
        }
        throw error;
      }
      if (reply.status === 200) return reply as Reply<T>;
      const error = reply.body as MatrixError;
      if (reply.status === 429 && attempt < 20) {
        this.throttled++;
        await sleep(Math.min(Math.max(error.retry_after_ms ?? 100, 10), 5_000));
        continue;
      }
      throw new BenchHttpError(what, reply.status, reply.body);
    }
  }

  newTxnId(): string {
    return `bench-${this.runId}-${++this.txnCounter}`;
  }

  /** A user with a name unique to this run. */
  async register(prefix: string): Promise<User> {
    const username = `bench_${prefix}_${this.runId}`.toLowerCase();
    const password = `pw-${this.runId}-${prefix}`;
    if (this.options.sharedSecret !== undefined) return this.registerWithSharedSecret(username, password, this.options.sharedSecret);
    const request = { username, password, inhibit_login: false, initial_device_display_name: "bench" };
    // Start the user-interactive auth session, then complete its m.login.dummy stage.
    for (let attempt = 0; ; attempt++) {
      const first = await this.raw<{ session?: string; access_token?: string; user_id?: string } & MatrixError>(
        "POST",
        `${V3}/register`,
        request,
      );
      if (first.status === 200 && first.body.access_token && first.body.user_id) {
        return { userId: first.body.user_id, token: first.body.access_token };
      }
      if (first.status === 429 && attempt < 30) {
        this.throttled++;
        await sleep(Math.min(Math.max(first.body.retry_after_ms ?? 500, 10), 10_000));
        continue;
      }
      if (first.status !== 401 || first.body.session === undefined) {
        throw new BenchHttpError(
          `register ${username} (the target needs open registration, or BENCH_SHARED_SECRET)`,
          first.status,
          first.body,
        );
      }
      const done = await this.call<{ access_token: string; user_id: string }>(`register ${username}`, "POST", `${V3}/register`, {
        ...request,
        auth: { type: "m.login.dummy", session: first.body.session },
      });
      return { userId: done.body.user_id, token: done.body.access_token };
    }
  }

  private async registerWithSharedSecret(username: string, password: string, secret: string): Promise<User> {
    const nonce = await this.call<{ nonce: string }>("shared-secret nonce", "GET", "/_synapse/admin/v1/register");
    const mac = createHmac("sha1", secret).update([nonce.body.nonce, username, password, "notadmin"].join("\x00")).digest("hex");
    const done = await this.call<{ access_token: string; user_id: string }>(`register ${username}`, "POST", "/_synapse/admin/v1/register", {
      nonce: nonce.body.nonce,
      username,
      password,
      admin: false,
      mac,
    });
    return { userId: done.body.user_id, token: done.body.access_token };
  }

  async createRoom(owner: User, body: Record<string, unknown>): Promise<Reply<{ room_id: string }>> {
    return this.call<{ room_id: string }>("createRoom", "POST", `${V3}/createRoom`, body, owner.token);
  }

  async join(member: User, roomId: string): Promise<Reply<{ room_id: string }>> {
    return this.call<{ room_id: string }>("join", "POST", `${V3}/rooms/${encodeURIComponent(roomId)}/join`, {}, member.token);
  }

  async send(sender: User, roomId: string, body: string): Promise<Reply<{ event_id: string }>> {
    return this.call<{ event_id: string }>(
      "send",
      "PUT",
      `${V3}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${this.newTxnId()}`,
      { msgtype: "m.text", body },
      sender.token,
    );
  }

  async sync(user: User, params: { since?: string; timeoutMs?: number; filter?: unknown }): Promise<Reply<SyncBody>> {
    const query = new URLSearchParams();
    if (params.since !== undefined) query.set("since", params.since);
    query.set("timeout", String(params.timeoutMs ?? 0));
    if (params.filter !== undefined) query.set("filter", JSON.stringify(params.filter));
    return this.call<SyncBody>("sync", "GET", `${V3}/sync?${query}`, undefined, user.token, (params.timeoutMs ?? 0) + 60_000);
  }

  async messages(reader: User, roomId: string, params: { dir: "b" | "f"; from?: string; limit: number }): Promise<Reply<MessagesBody>> {
    const query = new URLSearchParams({ dir: params.dir, limit: String(params.limit) });
    if (params.from !== undefined) query.set("from", params.from);
    return this.call<MessagesBody>("messages", "GET", `${V3}/rooms/${encodeURIComponent(roomId)}/messages?${query}`, undefined, reader.token);
  }
}

/** Runs `work` over `items` with at most `concurrency` at a time, stopping early once `deadline` (performance.now()) passes. */
export async function pool<T, R>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<R>, deadline = Infinity): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length && performance.now() < deadline) {
      const index = next++;
      results[index] = await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
