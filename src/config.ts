/**
 * The one config loader: every setting the homeserver reads from its environment
 * (wrangler [vars] and secrets), parsed and defaulted in one place. README.md documents each key.
 */
import { parseCidr, type IpRange } from "./media/ip-ranges";

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
  /** Presence tracking and sharing (Synapse's `presence.enabled`); a known cost, so it can be turned off. */
  presenceEnabled: boolean;
  /** Room version of new rooms when createRoom names none. */
  defaultRoomVersion: string;
  /** How long a /sync token stays good for an incremental sync; older ones get a fresh full sync. */
  syncStreamRetentionMs: number;
  passwordMinLength: number;
  rateLimits: {
    loginPerAddress: RateLimitSetting;
    loginFailedAttempts: RateLimitSetting;
    registrationPerAddress: RateLimitSetting;
    mediaCreate: RateLimitSetting;
  };
  media: MediaConfig;
}

/** A thumbnail size the server generates on demand and caches (Synapse's `thumbnail_sizes`). */
export interface ThumbnailSize {
  width: number;
  height: number;
  method: "crop" | "scale";
}

/** Presigned R2 (S3 API) download redirects; all four settings or none. */
export interface R2PresignConfig {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  /** Downloads at least this large are redirected; smaller ones are cheaper to stream. */
  minSize: number;
  expirySeconds: number;
}

export interface MediaConfig {
  maxUploadSize: number;
  /** Images with more pixels than this are not decoded (decompression bombs). */
  maxImagePixels: number;
  thumbnailSizes: ThumbnailSize[];
  /** How long an `mxc://` URI from POST /media/v1/create stays usable without content. */
  unusedExpirationMs: number;
  maxPendingUploads: number;
  presign: R2PresignConfig | undefined;
  urlPreview: UrlPreviewConfig;
}

export interface UrlPreviewConfig {
  enabled: boolean;
  /** Refused on top of the built-in private and reserved ranges. */
  ipRangeBlacklist: IpRange[];
  /** Allowed even though a blacklist range contains them. */
  ipRangeWhitelist: IpRange[];
  /** Largest response body read while previewing (Synapse's `max_spider_size`). */
  maxSpiderSize: number;
  timeoutMs: number;
  /** A DNS-over-HTTPS (JSON) endpoint used to check what hostnames resolve to; unset means no DNS check. */
  dnsResolver: string | undefined;
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

const SIZE_UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** A byte size: a plain number or one with a K, M or G suffix (powers of 1024, as in Synapse's config). */
function readSize(env: RawEnv, key: string, fallback: number): number {
  const value = readString(env, key);
  if (value === undefined) return fallback;
  const match = /^(\d+)\s*([KMG]?)B?$/i.exec(value);
  const unit = SIZE_UNITS[(match?.[2] ?? "").toUpperCase()];
  if (!match?.[1] || unit === undefined) {
    throw new Error(`Setting ${key} must be a size such as 1048576, 512K or 50M, not ${JSON.stringify(value)}`);
  }
  return Number(match[1]) * unit;
}

function readIpRanges(env: RawEnv, key: string): IpRange[] {
  return (readString(env, key) ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "")
    .map((item) => {
      try {
        return parseCidr(item);
      } catch {
        throw new Error(`Setting ${key} must list CIDR ranges such as 10.0.0.0/8 or fd00::/8, not ${JSON.stringify(item)}`);
      }
    });
}

/** Synapse's default `thumbnail_sizes`. */
const DEFAULT_THUMBNAIL_SIZES = "32x32-crop,96x96-crop,320x240-scale,640x480-scale,800x600-scale";

function readThumbnailSizes(env: RawEnv): ThumbnailSize[] {
  const value = readString(env, "THUMBNAIL_SIZES") ?? DEFAULT_THUMBNAIL_SIZES;
  return value.split(",").map((entry) => {
    const match = /^\s*(\d+)x(\d+)-(crop|scale)\s*$/.exec(entry);
    if (!match?.[1] || !match[2] || (match[3] !== "crop" && match[3] !== "scale") || match[1] === "0" || match[2] === "0") {
      throw new Error(`Setting THUMBNAIL_SIZES entries look like 96x96-crop or 640x480-scale, not ${JSON.stringify(entry)}`);
    }
    return { width: Number(match[1]), height: Number(match[2]), method: match[3] };
  });
}

function readPresign(env: RawEnv): R2PresignConfig | undefined {
  const endpoint = readString(env, "R2_S3_ENDPOINT");
  const accessKeyId = readString(env, "R2_ACCESS_KEY_ID");
  const secretAccessKey = readString(env, "R2_SECRET_ACCESS_KEY");
  const bucket = readString(env, "R2_BUCKET");
  const given = [endpoint, accessKeyId, secretAccessKey, bucket].filter((value) => value !== undefined).length;
  if (given === 0) return undefined;
  if (!endpoint || !accessKeyId || !secretAccessKey || !bucket) {
    throw new Error("Settings R2_S3_ENDPOINT, R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY and R2_BUCKET go together");
  }
  return {
    endpoint: endpoint.replace(/\/+$/, ""),
    accessKeyId,
    secretAccessKey,
    bucket,
    minSize: readSize(env, "R2_PRESIGNED_MIN_SIZE", 1024 * 1024),
    expirySeconds: readNumber(env, "R2_PRESIGNED_EXPIRY_SECONDS", 300),
  };
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
    presenceEnabled: readBoolean(env, "PRESENCE_ENABLED", true),
    syncStreamRetentionMs: readNumber(env, "SYNC_STREAM_RETENTION_MS", 14 * 24 * 60 * 60 * 1000),
    passwordMinLength: readNumber(env, "PASSWORD_MIN_LENGTH", 0),
    rateLimits: {
      // Defaults follow Synapse's rc_login and rc_registration.
      loginPerAddress: readRateLimit(env, "RC_LOGIN_ADDRESS", { perSecond: 0.003, burst: 5 }),
      loginFailedAttempts: readRateLimit(env, "RC_LOGIN_FAILED_ATTEMPTS", { perSecond: 0.17, burst: 3 }),
      registrationPerAddress: readRateLimit(env, "RC_REGISTRATION", { perSecond: 0.17, burst: 3 }),
      mediaCreate: readRateLimit(env, "RC_MEDIA_CREATE", { perSecond: 10, burst: 50 }),
    },
    // Defaults follow Synapse's media repository settings.
    media: {
      maxUploadSize: readSize(env, "MAX_UPLOAD_SIZE", 50 * 1024 * 1024),
      maxImagePixels: readSize(env, "MAX_IMAGE_PIXELS", 32 * 1024 * 1024),
      thumbnailSizes: readThumbnailSizes(env),
      unusedExpirationMs: readNumber(env, "UNUSED_MEDIA_EXPIRATION_MS", 24 * 60 * 60 * 1000),
      maxPendingUploads: readNumber(env, "MAX_PENDING_MEDIA_UPLOADS", 5),
      presign: readPresign(env),
      urlPreview: {
        enabled: readBoolean(env, "URL_PREVIEW_ENABLED", false),
        ipRangeBlacklist: readIpRanges(env, "URL_PREVIEW_IP_RANGE_BLACKLIST"),
        ipRangeWhitelist: readIpRanges(env, "URL_PREVIEW_IP_RANGE_WHITELIST"),
        maxSpiderSize: readSize(env, "MAX_SPIDER_SIZE", 10 * 1024 * 1024),
        timeoutMs: readNumber(env, "URL_PREVIEW_TIMEOUT_MS", 10_000),
        dnsResolver: readString(env, "URL_PREVIEW_DNS_RESOLVER"),
      },
    },
  };
  configCache.set(env, config);
  return config;
}
