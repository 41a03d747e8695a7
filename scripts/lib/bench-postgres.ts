/**
 * A real PostgreSQL for `npm run bench`: a fresh database in BENCH_DATABASE_URL's server, or else a
 * private PostgreSQL 15 cluster in a temporary directory on a free loopback port (installed with apt
 * when missing and running as root, as .ci/run does), stopped and removed at the end.
 */
import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "./postgres";

const run = promisify(execFile);
const PG_BIN = "/usr/lib/postgresql/15/bin";

export interface BenchPostgres {
  url: string;
  /** What it is, for the printed header. */
  description: string;
  stop(): Promise<void>;
}

async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ server_version: string }>("SHOW server_version");
    return result.rows[0]?.server_version ?? "?";
  } finally {
    await client.end();
  }
}

async function adminQuery(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** A fresh database in an existing server, dropped again at the end. */
async function freshDatabaseIn(adminUrl: string): Promise<BenchPostgres> {
  const name = `hs_bench_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const version = await serverVersion(url.toString());
  return {
    url: url.toString(),
    description: `PostgreSQL ${version} from BENCH_DATABASE_URL (database ${name}, dropped at the end)`,
    stop: () => adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined),
  };
}

async function ensureInstalled(log: (line: string) => void): Promise<void> {
  if (existsSync(join(PG_BIN, "pg_ctl"))) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`PostgreSQL 15 is not installed (${PG_BIN}); install postgresql-15 or set BENCH_DATABASE_URL`);
  }
  log("installing postgresql-15 with apt…");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  await run("apt-get", ["update", "-qq"], { env, timeout: 600_000 });
  await run("apt-get", ["install", "-y", "-qq", "postgresql-15"], { env, timeout: 900_000, maxBuffer: 64 * 1024 * 1024 });
}

/** A private cluster: initdb, pg_ctl start on a free port (as the postgres user when running as root). */
async function privateCluster(log: (line: string) => void): Promise<BenchPostgres> {
  await ensureInstalled(log);
  const asRoot = process.getuid?.() === 0;
  const directory = mkdtempSync(join(tmpdir(), "bench-postgres-"));
  const asPostgres = async (command: string, args: string[]) => {
    if (asRoot) await run("runuser", ["-u", "postgres", "--", join(PG_BIN, command), ...args], { timeout: 120_000 });
    else await run(join(PG_BIN, command), args, { timeout: 120_000 });
  };
  if (asRoot) {
    const { stdout } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    chownSync(directory, Number(stdout.trim()), Number(gid.trim()));
  }
  const dataDir = join(directory, "data");
  const port = await freePort();
  let started = false;
  const stop = async () => {
    if (started) await asPostgres("pg_ctl", ["-D", dataDir, "-m", "fast", "-w", "stop"]).catch(() => undefined);
    started = false;
    rmSync(directory, { recursive: true, force: true });
  };
  try {
    await asPostgres("initdb", ["-D", dataDir, "-A", "trust", "-U", "postgres", "--no-sync"]);
    await asPostgres("pg_ctl", [
      "-D",
      dataDir,
      "-l",
      join(directory, "log"),
      "-w",
      "-o",
      `-p ${port} -k ${directory} -c listen_addresses=127.0.0.1 -c max_connections=300`,
      "start",
    ]);
    started = true;
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const version = await serverVersion(url);
    return { url, description: `PostgreSQL ${version}, private cluster on 127.0.0.1:${port} (trust auth, default settings)`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export async function startBenchPostgres(log: (line: string) => void): Promise<BenchPostgres> {
  const given = process.env.BENCH_DATABASE_URL;
  if (given !== undefined && given !== "") return freshDatabaseIn(given);
  return privateCluster(log);
}
