/**
 * Postgres for local runs and tests: the embedded default (PGlite served over TCP by pglite-socket,
 * from npm alone), migrations, and the loopback WebSocket relay the Neon driver needs to reach a
 * plain Postgres.
 */
import { createServer, type AddressInfo } from "node:net";
import { connect } from "node:net";
import { createServer as createHttpServer } from "node:http";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { WebSocketServer, createWebSocketStream } from "ws";

export interface RunningService {
  url: string;
  stop(): Promise<void>;
}

export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../../migrations", import.meta.url));

/** Starts PGlite with its data in `directory` and serves it on a loopback port. */
export async function startEmbeddedPostgres(directory: string): Promise<RunningService> {
  const db = await PGlite.create({ dataDir: directory });
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 200 });
  await server.start();
  const address = server.getServerConn();
  return {
    url: `postgres://postgres:postgres@${address}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}

export async function runMigrations(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_FOLDER });
  } finally {
    await client.end();
  }
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/**
 * The WebSocket-to-TCP relay for the Neon driver (`neonConfig.wsProxy`). It only ever connects to
 * loopback addresses, so it cannot be turned into an open proxy.
 */
export async function startWebSocketRelay(): Promise<RunningService> {
  const http = createHttpServer((_request, response) => {
    response.writeHead(426).end("WebSocket only");
  });
  const wss = new WebSocketServer({ server: http });
  wss.on("connection", (socket, request) => {
    const target = new URL(request.url ?? "/", "http://relay").searchParams.get("address") ?? "";
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
    stream.pipe(tcp).pipe(stream);
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
