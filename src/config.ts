/**
 * The one config loader: every setting the homeserver reads from its environment
 * (wrangler [vars] and secrets), parsed and defaulted in one place. README.md documents each key.
 */
export interface RateLimitSetting {
  /** Tokens regained per second. */
  perSecond: number;
  /** Bucket size: how many actions may happen at once. */
  burst: number;
}

export interface Config {
  serverName: string;
  /** Public base URL clients use (m.homeserver in /.well-known/matrix/client); derived from the request when unset. */
  publicBaseUrl: string | undefined;
  /** Value of m.server in /.well-known/matrix/server; that endpoint answers 404 when unset. */
  wellKnownServer: string | undefined;
  enableRegistration: boolean;
  registrationRequiresToken: boolean;
  registrationSharedSecret: string | undefined;
  /** The server's ed25519 signing key(s), in Synapse's signing-key file format (`ed25519 <version> <base64 seed>`). */
  signingKey: string | undefined;
  allowGuestAccess: boolean;
  databaseUrl: string | undefined;
  /** Local runs only: a WebSocket relay in front of a plain Postgres, for the Neon driver. */
  neonLocalWsProxy: string | undefined;
  /** Lifetime of access tokens issued together with a refresh token. */
  accessTokenLifetimeMs: number;
  /** Lifetime of refresh tokens; undefined means they never expire on their own. */
  refreshTokenLifetimeMs: number | undefined;
  maxJsonBodyBytes: number;
  /** Room version of new rooms when createRoom names none. */
  defaultRoomVersion: string;
  passwordMinLength: number;
  rateLimits: {
    loginPerAddress: RateLimitSetting;
    loginFailedAttempts: RateLimitSetting;
    registrationPerAddress: RateLimitSetting;
  };
}

type RawEnv = Record<string, unknown>;

function readString(env: RawEnv, key: string): string | undefined {
  const value = env[key];
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

function readBoolean(env: RawEnv, key: string, fallback: boolean): boolean {
  const value = readString(env, key);
  if (value === undefined) return fallback;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new Error(`Setting ${key} must be true or false, not ${JSON.stringify(value)}`);
}

function readNumber(env: RawEnv, key: string, fallback: number): number {
  const value = readString(env, key);
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) {
    throw new Error(`Setting ${key} must be a non-negative number, not ${JSON.stringify(value)}`);
  }
  return parsed;
}

function readRateLimit(env: RawEnv, prefix: string, fallback: RateLimitSetting): RateLimitSetting {
  return {
    perSecond: readNumber(env, `${prefix}_PER_SECOND`, fallback.perSecond),
    burst: readNumber(env, `${prefix}_BURST`, fallback.burst),
  };
}

const configCache = new WeakMap<object, Config>();

export function loadConfig(env: RawEnv): Config {
  const cached = configCache.get(env);
  if (cached) return cached;
  const refreshLifetime = readNumber(env, "REFRESH_TOKEN_LIFETIME_MS", 0);
  const config: Config = {
    serverName: readString(env, "SERVER_NAME") ?? "localhost",
    publicBaseUrl: readString(env, "PUBLIC_BASEURL")?.replace(/\/+$/, ""),
    wellKnownServer: readString(env, "WELL_KNOWN_SERVER"),
    enableRegistration: readBoolean(env, "ENABLE_REGISTRATION", false),
    registrationRequiresToken: readBoolean(env, "REGISTRATION_REQUIRES_TOKEN", false),
    registrationSharedSecret: readString(env, "REGISTRATION_SHARED_SECRET"),
    signingKey: readString(env, "SIGNING_KEY"),
    allowGuestAccess: readBoolean(env, "ALLOW_GUEST_ACCESS", false),
    databaseUrl: readString(env, "DATABASE_URL"),
    neonLocalWsProxy: readString(env, "NEON_LOCAL_WS_PROXY"),
    accessTokenLifetimeMs: readNumber(env, "ACCESS_TOKEN_LIFETIME_MS", 5 * 60 * 1000),
    refreshTokenLifetimeMs: refreshLifetime > 0 ? refreshLifetime : undefined,
    maxJsonBodyBytes: readNumber(env, "MAX_JSON_BODY_BYTES", 1024 * 1024),
    defaultRoomVersion: readString(env, "DEFAULT_ROOM_VERSION") ?? "11",
    passwordMinLength: readNumber(env, "PASSWORD_MIN_LENGTH", 0),
    rateLimits: {
      // Defaults follow Synapse's rc_login and rc_registration.
      loginPerAddress: readRateLimit(env, "RC_LOGIN_ADDRESS", { perSecond: 0.003, burst: 5 }),
      loginFailedAttempts: readRateLimit(env, "RC_LOGIN_FAILED_ATTEMPTS", { perSecond: 0.17, burst: 3 }),
      registrationPerAddress: readRateLimit(env, "RC_REGISTRATION", { perSecond: 0.17, burst: 3 }),
    },
  };
  configCache.set(env, config);
  return config;
}
