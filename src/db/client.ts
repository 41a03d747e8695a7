/**
 * Postgres access through the Neon serverless driver (WebSockets), the same code locally and in production.
 * Workers may not share I/O objects between requests, so each request (or Durable Object call) opens
 * its own pool lazily and ends it when done; hot paths avoid opening one at all.
 */
import { Pool, neonConfig } from "@neondatabase/serverless";
import { drizzle, type NeonDatabase } from "drizzle-orm/neon-serverless";
import type { Config } from "../config";
import * as schema from "./schema";

export type Database = NeonDatabase<typeof schema>;

let localRelayConfigured = false;

function configureDriver(config: Config): void {
  if (!config.neonLocalWsProxy || localRelayConfigured) return;
  // Local runs: plain Postgres behind a loopback WebSocket relay, without TLS.
  // The driver adds the ws:// scheme itself; the setting may carry one for readability.
  const relay = config.neonLocalWsProxy.replace(/^wss?:\/\//, "").replace(/\/+$/, "");
  neonConfig.wsProxy = (host, port) => `${relay}/v1?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
  localRelayConfigured = true;
}

export class DatabaseHandle {
  private pool: Pool | undefined;
  private database: Database | undefined;

  constructor(private readonly config: Config) {}

  get db(): Database {
    if (!this.database) {
      if (!this.config.databaseUrl) throw new Error("DATABASE_URL is not configured");
      configureDriver(this.config);
      const pool = new Pool({ connectionString: this.config.databaseUrl });
      // An idle socket's error must not surface as an unhandled rejection. Workers cut the sockets of a
      // finished request ("Network connection lost"); that is the normal end of a per-request pool.
      pool.on("error", (error: Error) => {
        if (!error.message.includes("Network connection lost")) console.warn("postgres pool error:", error.message);
      });
      this.pool = pool;
      this.database = drizzle({ client: pool, schema });
    }
    return this.database;
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    this.database = undefined;
    if (pool) await pool.end().catch(() => undefined);
  }
}

/** Runs `work` with a database handle that is closed afterwards; for Durable Objects and one-off tasks. */
export async function withDatabase<T>(config: Config, work: (db: Database) => Promise<T>): Promise<T> {
  const handle = new DatabaseHandle(config);
  try {
    return await work(handle.db);
  } finally {
    await handle.close();
  }
}
