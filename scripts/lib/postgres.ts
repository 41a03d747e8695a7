/**
 * Postgres for local runs and tests: the embedded default (PGlite, from npm alone), migrations, and the
 * loopback WebSocket endpoint the Neon driver connects to (`neonConfig.wsProxy`).
 *
 * With a real Postgres the endpoint relays each WebSocket to a loopback TCP connection. With the embedded
 * PGlite it serves the Postgres wire protocol itself: PGlite is a single session, so the many connections
 * of concurrent requests are multiplexed onto it one extended-protocol batch (up to Sync) at a time, and
 * a connection inside a transaction keeps the session until the transaction ends — what a transaction
 * pooler does. Interleaving individual messages instead (as pglite-socket does) lets one connection's
 * Bind clobber another's unnamed portal.
 */
import { createServer, connect, type AddressInfo } from "node:net";
import { createServer as createHttpServer } from "node:http";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { WebSocketServer, createWebSocketStream, type WebSocket } from "ws";

export interface RunningService {
  url: string;
  stop(): Promise<void>;
}

export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../../migrations", import.meta.url));

/** Where the Worker's Postgres connections go: a real server on loopback, or the embedded PGlite. */
export type PostgresTarget = { kind: "tcp" } | { kind: "embedded"; db: PGlite };

/** The connection string the Worker is given for the embedded database (the endpoint ignores the address). */
export const EMBEDDED_DATABASE_URL = "postgres://postgres:postgres@127.0.0.1:5432/postgres";

export async function openEmbeddedPostgres(directory: string): Promise<PGlite> {
  return PGlite.create({ dataDir: directory });
}

export async function runMigrations(target: string | PGlite): Promise<void> {
  if (typeof target !== "string") {
    await migratePglite(drizzlePglite({ client: target }), { migrationsFolder: MIGRATIONS_FOLDER });
    return;
  }
  const client = new pg.Client({ connectionString: target });
  await client.connect();
  try {
    await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_FOLDER });
  } finally {
    await client.end();
  }
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);
const SSL_REQUEST_CODE = 80877103;
const PROTOCOL_VERSION_3 = 196608;

/** Relays one WebSocket to a loopback Postgres; any other target is refused (no open proxy). */
function relayToTcp(socket: WebSocket, target: string): void {
  const separator = target.lastIndexOf(":");
  const host = target.slice(0, separator);
  const port = Number(target.slice(separator + 1));
  if (!LOOPBACK_HOSTS.has(host) || !Number.isInteger(port) || port <= 0) {
    socket.close(1008, "only loopback targets are relayed");
    return;
  }
  const tcp = connect({ host: host.replace(/^\[|\]$/g, ""), port });
  const stream = createWebSocketStream(socket);
  const closeBoth = () => {
    tcp.destroy();
    stream.destroy();
  };
  tcp.on("error", closeBoth);
  stream.on("error", closeBoth);
  socket.on("close", closeBoth);
  tcp.on("close", () => socket.close());
  stream.pipe(tcp).pipe(stream);
}

/** Hands the single PGlite session to one connection at a time. */
class SessionLock {
  private owner: symbol | undefined;
  private readonly queue: { id: symbol; grant: () => void }[] = [];

  async acquire(id: symbol): Promise<void> {
    if (this.owner === id) return;
    if (this.owner === undefined) {
      this.owner = id;
      return;
    }
    await new Promise<void>((grant) => this.queue.push({ id, grant }));
  }

  release(id: symbol): void {
    if (this.owner !== id) {
      const index = this.queue.findIndex((waiter) => waiter.id === id);
      if (index >= 0) this.queue.splice(index, 1);
      return;
    }
    const next = this.queue.shift();
    this.owner = next?.id;
    next?.grant();
  }

  heldBy(id: symbol): boolean {
    return this.owner === id;
  }
}

/** Serves the Postgres protocol of one WebSocket connection from the shared PGlite session. */
function serveFromPglite(socket: WebSocket, db: PGlite, lock: SessionLock): void {
  const id = Symbol("connection");
  let buffer = Buffer.alloc(0);
  let started = false;
  let closed = false;
  let work = Promise.resolve();
  const send = (data: Uint8Array) => {
    if (!closed && data.length > 0) socket.send(data);
  };

  const execute = async (message: Uint8Array) => {
    await db.execProtocolRawStream(message, { onRawData: send });
  };

  /** Splits complete messages off the buffer; the startup packet has no type byte. */
  const takeMessages = (): { type: string; bytes: Buffer }[] => {
    const messages: { type: string; bytes: Buffer }[] = [];
    for (;;) {
      if (!started) {
        if (buffer.length < 8) break;
        const length = buffer.readInt32BE(0);
        if (buffer.length < length) break;
        messages.push({ type: "startup", bytes: buffer.subarray(0, length) });
        buffer = buffer.subarray(length);
        if (messages.at(-1)!.bytes.readInt32BE(4) === PROTOCOL_VERSION_3) started = true;
        continue;
      }
      if (buffer.length < 5) break;
      const length = buffer.readInt32BE(1) + 1;
      if (buffer.length < length) break;
      messages.push({ type: String.fromCharCode(buffer[0]!), bytes: buffer.subarray(0, length) });
      buffer = buffer.subarray(length);
    }
    return messages;
  };

  const process = async (messages: { type: string; bytes: Buffer }[]) => {
    for (const message of messages) {
      if (message.type === "startup" && message.bytes.readInt32BE(4) === SSL_REQUEST_CODE) {
        send(Buffer.from("N"));
        continue;
      }
      if (message.type === "X") {
        socket.close();
        return;
      }
      await lock.acquire(id);
      await execute(message.bytes);
      // A batch ends at Sync, a simple Query, Flush or the startup; keep the session only inside a transaction.
      const endsBatch = message.type === "S" || message.type === "Q" || message.type === "H" || message.type === "startup";
      if (endsBatch && !db.isInTransaction()) lock.release(id);
    }
  };

  socket.on("message", (data: Buffer) => {
    buffer = Buffer.concat([buffer, data]);
    const messages = takeMessages();
    work = work.then(() => process(messages)).catch(() => socket.close());
  });
  socket.on("close", () => {
    closed = true;
    void work.finally(async () => {
      if (lock.heldBy(id) && db.isInTransaction()) await db.exec("ROLLBACK").catch(() => undefined);
      lock.release(id);
    });
  });
}

/** The WebSocket endpoint for the Neon driver, on a free loopback port. */
export async function startPostgresEndpoint(target: PostgresTarget): Promise<RunningService> {
  const http = createHttpServer((_request, response) => {
    response.writeHead(426).end("WebSocket only");
  });
  const wss = new WebSocketServer({ server: http });
  const lock = new SessionLock();
  wss.on("connection", (socket, request) => {
    if (target.kind === "embedded") {
      serveFromPglite(socket, target.db, lock);
      return;
    }
    relayToTcp(socket, new URL(request.url ?? "/", "http://relay").searchParams.get("address") ?? "");
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    async stop() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** A free loopback TCP port. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
