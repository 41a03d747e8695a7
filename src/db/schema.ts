/**
 * Global metadata in Postgres (Neon in production). Room event graphs live in the Room Durable Objects;
 * this holds what is not a room's: accounts, devices, sessions, registration tokens, and the indexes
 * that span rooms (which users are in which rooms, room aliases, directory visibility).
 * Change it here, then `npm run db:generate` writes the migration into migrations/.
 */
import { sql } from "drizzle-orm";
import { bigint, boolean, index, integer, jsonb, pgTable, primaryKey, text, uniqueIndex } from "drizzle-orm/pg-core";

const timestamp = (name: string) => bigint(name, { mode: "number" });

export const users = pgTable("users", {
  userId: text("user_id").primaryKey(),
  passwordHash: text("password_hash"),
  admin: boolean("admin").notNull().default(false),
  isGuest: boolean("is_guest").notNull().default(false),
  userType: text("user_type"),
  deactivated: boolean("deactivated").notNull().default(false),
  erased: boolean("erased").notNull().default(false),
  createdTs: timestamp("created_ts").notNull(),
});

export const devices = pgTable(
  "devices",
  {
    userId: text("user_id").notNull(),
    deviceId: text("device_id").notNull(),
    displayName: text("display_name"),
    lastSeenTs: timestamp("last_seen_ts"),
    lastSeenIp: text("last_seen_ip"),
    createdTs: timestamp("created_ts").notNull(),
    /**
     * Set only on the user's dehydrated device (MSC3814): the `device_data` its owner uploaded, from which
     * a new device of theirs rehydrates it. Such a device never has an access token.
     */
    dehydratedDeviceData: jsonb("dehydrated_device_data").$type<Record<string, unknown>>(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.deviceId] }),
    // A user has at most one dehydrated device; this also finds it.
    uniqueIndex("devices_dehydrated_user_idx").on(t.userId).where(sql`${t.dehydratedDeviceData} IS NOT NULL`),
  ],
);

/** Access tokens are stored only as SHA-256 hashes; the token itself exists only in the client's hands. */
export const accessTokens = pgTable(
  "access_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    userId: text("user_id").notNull(),
    deviceId: text("device_id").notNull(),
    createdTs: timestamp("created_ts").notNull(),
    /** Set only for tokens issued with a refresh token. */
    expiresTs: timestamp("expires_ts"),
  },
  (t) => [index("access_tokens_user_idx").on(t.userId)],
);

export const refreshTokens = pgTable(
  "refresh_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    userId: text("user_id").notNull(),
    deviceId: text("device_id").notNull(),
    /** The access token issued together with this refresh token; refreshing revokes it. */
    accessTokenHash: text("access_token_hash").notNull(),
    createdTs: timestamp("created_ts").notNull(),
    expiresTs: timestamp("expires_ts"),
  },
  (t) => [index("refresh_tokens_user_idx").on(t.userId)],
);

/** User-interactive authentication sessions; a session is bound to the request that opened it. */
export const uiaSessions = pgTable("uia_sessions", {
  sessionId: text("session_id").primaryKey(),
  method: text("method").notNull(),
  path: text("path").notNull(),
  userId: text("user_id"),
  completed: jsonb("completed").$type<string[]>().notNull().default([]),
  /** The registration token this session spent a use of, if any. */
  registrationToken: text("registration_token"),
  createdTs: timestamp("created_ts").notNull(),
});

/** Tokens for `m.login.registration_token`, managed through Synapse's admin API. */
export const registrationTokens = pgTable("registration_tokens", {
  token: text("token").primaryKey(),
  usesAllowed: integer("uses_allowed"),
  pending: integer("pending").notNull().default(0),
  completed: integer("completed").notNull().default(0),
  expiryTime: timestamp("expiry_time"),
});

/** Nonces handed out by GET /_synapse/admin/v1/register, each usable once. */
export const sharedSecretNonces = pgTable("shared_secret_nonces", {
  nonce: text("nonce").primaryKey(),
  createdTs: timestamp("created_ts").notNull(),
});

/** Rooms created on this server; `is_public` is the room's visibility in the published room directory. */
export const rooms = pgTable("rooms", {
  roomId: text("room_id").primaryKey(),
  roomVersion: text("room_version").notNull(),
  creator: text("creator").notNull(),
  isPublic: boolean("is_public").notNull().default(false),
  createdTs: timestamp("created_ts").notNull(),
});

/**
 * Each user's current membership of each room, written by the room's Durable Object whenever a
 * membership changes (never on ordinary messages). `stream_ordering` is the room's own stream position of
 * the membership event, so a late retry can never overwrite a newer membership.
 */
export const roomMemberships = pgTable(
  "room_memberships",
  {
    roomId: text("room_id").notNull(),
    userId: text("user_id").notNull(),
    membership: text("membership").notNull(),
    eventId: text("event_id").notNull(),
    streamOrdering: bigint("stream_ordering", { mode: "number" }).notNull(),
    /** Set by POST /rooms/{roomId}/forget; cleared by the next membership change. */
    forgotten: boolean("forgotten").notNull().default(false),
    updatedTs: timestamp("updated_ts").notNull(),
  },
  (t) => [primaryKey({ columns: [t.roomId, t.userId] }), index("room_memberships_user_idx").on(t.userId, t.membership)],
);

/** Local room aliases (`#localpart:this.server`) and who created them (they may delete them). */
export const roomAliases = pgTable(
  "room_aliases",
  {
    alias: text("alias").primaryKey(),
    roomId: text("room_id").notNull(),
    creator: text("creator").notNull(),
    createdTs: timestamp("created_ts").notNull(),
  },
  (t) => [index("room_aliases_room_idx").on(t.roomId)],
);

/**
 * Local media: one row per `mxc://` URI this server handed out. The bytes live in R2 under
 * `local_content/<media_id>` (thumbnails under `local_thumbnails/<media_id>/…`); a row without
 * `uploaded_ts` is an `mxc://` URI from POST /media/v1/create still waiting for its content.
 */
export const media = pgTable(
  "media",
  {
    mediaId: text("media_id").primaryKey(),
    /** Who uploaded (or, while pending, who may upload) the content. */
    userId: text("user_id").notNull(),
    mediaType: text("media_type"),
    uploadName: text("upload_name"),
    mediaLength: bigint("media_length", { mode: "number" }),
    createdTs: timestamp("created_ts").notNull(),
    uploadedTs: timestamp("uploaded_ts"),
    /** Pending URIs only: when the URI lapses if no content arrives. */
    unusedExpiresTs: timestamp("unused_expires_ts"),
    /** Set while a PUT streams content, so a concurrent PUT gets M_CANNOT_OVERWRITE_MEDIA. */
    uploadLockedUntilTs: timestamp("upload_locked_until_ts"),
    /** The URL an image was fetched from by the URL previewer, for images it stored. */
    urlCache: text("url_cache"),
  },
  (t) => [index("media_user_idx").on(t.userId, t.uploadedTs)],
);

/**
 * URL previews already computed, kept per download so that a preview requested for a past moment (`ts`)
 * is answered from the download closest to it, as in Synapse's `local_media_repository_url_cache`.
 */
export const urlPreviews = pgTable(
  "url_previews",
  {
    url: text("url").notNull(),
    downloadTs: timestamp("download_ts").notNull(),
    expiresTs: timestamp("expires_ts").notNull(),
    og: jsonb("og").$type<Record<string, string | number>>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.url, t.downloadTs] })],
);
/**
 * Account data, global (`room_id` empty) and per room, including room tags (`m.tag`). Postgres is its
 * record; each change also goes to the user's UserSync stream, which carries it to incremental syncs.
 */
export const accountData = pgTable(
  "account_data",
  {
    userId: text("user_id").notNull(),
    roomId: text("room_id").notNull().default(""),
    type: text("type").notNull(),
    content: jsonb("content").$type<Record<string, unknown>>().notNull(),
    updatedTs: timestamp("updated_ts").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.roomId, t.type] })],
);

/** Filters uploaded with POST /user/{userId}/filter; immutable once created, so they cache forever. */
export const userFilters = pgTable(
  "user_filters",
  {
    userId: text("user_id").notNull(),
    filterId: integer("filter_id").notNull(),
    definition: jsonb("definition").$type<Record<string, unknown>>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.filterId] })],
);

/** Profiles: `displayname`, `avatar_url`, `m.tz` and custom fields, as one JSON object per user. */
export const profiles = pgTable("profiles", {
  userId: text("user_id").primaryKey(),
  fields: jsonb("fields").$type<Record<string, unknown>>().notNull(),
});

/**
 * Each user's push rule customisations as one document: their own rules per kind, in order, and the
 * `enabled`/`actions` they set on the server-default rules. The effective ruleset is derived from it.
 */
export const pushRules = pgTable("push_rules", {
  userId: text("user_id").primaryKey(),
  document: jsonb("document").$type<Record<string, unknown>>().notNull(),
});

/**
 * End-to-end encryption: each device's identity keys as uploaded (POST /keys/upload), the signed JSON
 * kept verbatim because clients verify its signatures.
 */
export const e2eDeviceKeys = pgTable(
  "e2e_device_keys",
  {
    userId: text("user_id").notNull(),
    deviceId: text("device_id").notNull(),
    keyJson: jsonb("key_json").$type<Record<string, unknown>>().notNull(),
    updatedTs: timestamp("updated_ts").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.deviceId] })],
);

/** Unclaimed one-time keys; a claim deletes the row it hands out, so no key is given twice. */
export const e2eOneTimeKeys = pgTable(
  "e2e_one_time_keys",
  {
    userId: text("user_id").notNull(),
    deviceId: text("device_id").notNull(),
    algorithm: text("algorithm").notNull(),
    /** The part after `<algorithm>:` in the key's name. */
    keyId: text("key_id").notNull(),
    keyJson: jsonb("key_json").$type<string | Record<string, unknown>>().notNull(),
    /** Keys are claimed oldest upload first (spec: POST /keys/claim). */
    uploadedTs: timestamp("uploaded_ts").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.deviceId, t.algorithm, t.keyId] })],
);

/** One fallback key per device and algorithm, handed out (and marked used) when one-time keys run out. */
export const e2eFallbackKeys = pgTable(
  "e2e_fallback_keys",
  {
    userId: text("user_id").notNull(),
    deviceId: text("device_id").notNull(),
    algorithm: text("algorithm").notNull(),
    keyId: text("key_id").notNull(),
    keyJson: jsonb("key_json").$type<string | Record<string, unknown>>().notNull(),
    used: boolean("used").notNull().default(false),
  },
  (t) => [primaryKey({ columns: [t.userId, t.deviceId, t.algorithm] })],
);

/**
 * A per-device counter bumped (row-locked) by every upload and claim of that device's keys. It orders
 * those changes, so the key counts each one reports to the user's UserSync object carry a version and a
 * late report can never overwrite a newer one.
 */
export const e2eKeyCountVersions = pgTable(
  "e2e_key_count_versions",
  {
    userId: text("user_id").notNull(),
    deviceId: text("device_id").notNull(),
    version: bigint("version", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.deviceId] })],
);

/** A user's current cross-signing keys, one per usage (`master`, `self_signing`, `user_signing`). */
export const e2eCrossSigningKeys = pgTable(
  "e2e_cross_signing_keys",
  {
    userId: text("user_id").notNull(),
    usage: text("usage").notNull(),
    /** The unpadded base64 ed25519 public key, which is also the key's ID. */
    publicKey: text("public_key").notNull(),
    keyJson: jsonb("key_json").$type<Record<string, unknown>>().notNull(),
    updatedTs: timestamp("updated_ts").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.usage] })],
);

/**
 * Signatures uploaded with POST /keys/signatures/upload: `user_id`'s key `key_id` signed the target
 * user's device (`target_key_id` a device ID) or master key (`target_key_id` its public key).
 */
export const e2eCrossSigningSignatures = pgTable(
  "e2e_cross_signing_signatures",
  {
    targetUserId: text("target_user_id").notNull(),
    targetKeyId: text("target_key_id").notNull(),
    userId: text("user_id").notNull(),
    keyId: text("key_id").notNull(),
    signature: text("signature").notNull(),
  },
  (t) => [primaryKey({ columns: [t.targetUserId, t.targetKeyId, t.userId, t.keyId] })],
);

/**
 * Server-side key backup versions. Deleted versions keep their row (`deleted`) so their number is never
 * reused and deleting twice succeeds; `etag` changes whenever the version's keys do.
 */
export const e2eRoomKeyVersions = pgTable(
  "e2e_room_key_versions",
  {
    userId: text("user_id").notNull(),
    version: bigint("version", { mode: "number" }).notNull(),
    algorithm: text("algorithm").notNull(),
    authData: jsonb("auth_data").$type<Record<string, unknown>>().notNull(),
    etag: bigint("etag", { mode: "number" }).notNull().default(0),
    deleted: boolean("deleted").notNull().default(false),
  },
  (t) => [primaryKey({ columns: [t.userId, t.version] })],
);

/** The backed-up megolm session keys of each backup version. */
export const e2eRoomKeys = pgTable(
  "e2e_room_keys",
  {
    userId: text("user_id").notNull(),
    version: bigint("version", { mode: "number" }).notNull(),
    roomId: text("room_id").notNull(),
    sessionId: text("session_id").notNull(),
    firstMessageIndex: integer("first_message_index").notNull(),
    forwardedCount: integer("forwarded_count").notNull(),
    isVerified: boolean("is_verified").notNull(),
    sessionData: jsonb("session_data").$type<Record<string, unknown>>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.version, t.roomId, t.sessionId] })],
);
