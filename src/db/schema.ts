/**
 * Global metadata in Postgres (Neon in production). Room event graphs live in the Room Durable Objects;
 * this holds what is not a room's: accounts, devices, sessions, registration tokens.
 * Change it here, then `npm run db:generate` writes the migration into migrations/.
 */
import { bigint, boolean, index, integer, jsonb, pgTable, primaryKey, text } from "drizzle-orm/pg-core";

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
  },
  (t) => [primaryKey({ columns: [t.userId, t.deviceId] })],
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
