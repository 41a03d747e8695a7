/**
 * Starts the whole homeserver locally, the way `npm start` and the tests do: Postgres (embedded PGlite
 * unless DATABASE_URL names one), migrations, the Neon WebSocket relay, then the Worker and its Durable
 * Objects in workerd through Miniflare, configured from wrangler.toml. State persists under `dataDir`.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Log, LogLevel, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { encodeSigningKeyFile, generateSigningKey } from "../../src/core/crypto/ed25519";
import {
  EMBEDDED_DATABASE_URL,
  openEmbeddedPostgres,
  runMigrations,
  startPostgresEndpoint,
  type PostgresTarget,
  type RunningService,
} from "./postgres";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BUILD_DIR = join(ROOT, ".wrangler", "local-build");

export interface HomeserverOptions {
  port: number;
  host?: string;
  dataDir: string;
  /** Use this Postgres instead of the embedded one. */
  databaseUrl?: string;
  /** Worker variables (SERVER_NAME, ENABLE_REGISTRATION, ...), on top of wrangler.toml's [vars]. */
  vars?: Record<string, string>;
  log?: (line: string) => void;
  /** How much of the Worker's own output (console.*, errors) to show. */
  workerLogLevel?: LogLevel;
}

export interface RunningHomeserver {
  url: string;
  databaseUrl: string;
  registrationSharedSecret: string;
  stop(): Promise<void>;
}

/** Stops the server on Ctrl-C or SIGTERM (once, however often the signal comes), then exits. */
export function stopOnSignals(server: RunningHomeserver): void {
  let stopping = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      void server.stop().then(() => process.exit(0));
    });
  }
}

interface LocalSecrets {
  registrationSharedSecret: string;
  /** The server's ed25519 signing key in Synapse's signing-key file format. */
  signingKey: string;
}

/** Secrets generated on first start and kept with the local data, like Synapse's generated config. */
async function loadOrCreateSecrets(dataDir: string): Promise<LocalSecrets> {
  const file = join(dataDir, "secrets.json");
  const stored: Partial<LocalSecrets> = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
  const secrets: LocalSecrets = {
    registrationSharedSecret: stored.registrationSharedSecret ?? randomBytes(32).toString("base64url"),
    signingKey: stored.signingKey ?? encodeSigningKeyFile(await generateSigningKey()),
  };
  if (stored.registrationSharedSecret === undefined || stored.signingKey === undefined) {
    writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  }
  return secrets;
}

/** Miniflare's log, minus secrets: access tokens passed as query parameters never reach the console. */
class RedactingLog extends Log {
  override logWithLevel(level: LogLevel, message: string): void {
    super.logWithLevel(level, message.replace(/access_token=[^&\s]+/g, "access_token=<redacted>"));
  }
}

let buildOnce: Promise<void> | undefined;

/**
 * Bundles the Worker with wrangler (the same bundler `wrangler deploy` uses); once per process, and not
 * at all when the test runner has already built it for every test process (HOMESERVER_PREBUILT).
 */
export function buildWorker(): Promise<void> {
  if (process.env.HOMESERVER_PREBUILT === "1" && existsSync(join(BUILD_DIR, "index.js"))) return Promise.resolve();
  buildOnce ??= promisify(execFile)(
    join(ROOT, "node_modules", ".bin", "wrangler"),
    ["deploy", "--dry-run", "--outdir", BUILD_DIR, "--config", join(ROOT, "wrangler.toml")],
    { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" } },
  ).then(() => undefined);
  return buildOnce;
}

export async function startHomeserver(options: HomeserverOptions): Promise<RunningHomeserver> {
  const log = options.log ?? (() => undefined);
  mkdirSync(options.dataDir, { recursive: true });
  const secrets = await loadOrCreateSecrets(options.dataDir);
  const started: RunningService[] = [];
  const stopAll = async () => {
    for (const service of started.reverse()) await service.stop().catch(() => undefined);
  };
  try {
    let databaseUrl = options.databaseUrl;
    let target: PostgresTarget = { kind: "tcp" };
    if (databaseUrl === undefined) {
      const directory = join(options.dataDir, "postgres");
      const db = await openEmbeddedPostgres(directory);
      started.push({ url: directory, stop: () => db.close() });
      target = { kind: "embedded", db };
      databaseUrl = EMBEDDED_DATABASE_URL;
      await runMigrations(db);
      log(`embedded Postgres (PGlite) in ${directory}`);
    } else {
      await runMigrations(databaseUrl);
    }
    const relay = await startPostgresEndpoint(target);
    started.push(relay);
    await buildWorker();

    const { workerOptions } = unstable_getMiniflareWorkerOptions(join(ROOT, "wrangler.toml"));
    const host = options.host ?? "127.0.0.1";
    const miniflare = new Miniflare({
      ...workerOptions,
      name: "homeserver",
      // WebAssembly the bundle imports (e.g. the image library's .wasm) sits beside it as separate modules.
      modules: [
        { type: "ESModule", path: join(BUILD_DIR, "index.js") },
        ...readdirSync(BUILD_DIR)
          .filter((file) => file.endsWith(".wasm"))
          .map((file) => ({ type: "CompiledWasm" as const, path: join(BUILD_DIR, file) })),
      ],
      modulesRoot: BUILD_DIR,
      bindings: {
        ...workerOptions.bindings,
        REGISTRATION_SHARED_SECRET: secrets.registrationSharedSecret,
        SIGNING_KEY: secrets.signingKey,
        ...options.vars,
        DATABASE_URL: databaseUrl,
        NEON_LOCAL_WS_PROXY: relay.url,
      },
      host,
      port: options.port,
      cf: false,
      log: new RedactingLog(options.workerLogLevel ?? LogLevel.INFO),
      durableObjectsPersist: join(options.dataDir, "durable-objects"),
      r2Persist: join(options.dataDir, "r2"),
      kvPersist: join(options.dataDir, "kv"),
      cachePersist: join(options.dataDir, "cache"),
    } as ConstructorParameters<typeof Miniflare>[0]);
    const url = (await miniflare.ready).toString().replace(/\/$/, "");
    started.push({ url, stop: () => miniflare.dispose() });
    return {
      url,
      databaseUrl,
      registrationSharedSecret: options.vars?.REGISTRATION_SHARED_SECRET ?? secrets.registrationSharedSecret,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
