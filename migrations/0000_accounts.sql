CREATE TABLE "access_tokens" (
	"token_hash" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"device_id" text NOT NULL,
	"created_ts" bigint NOT NULL,
	"expires_ts" bigint
);
--> statement-breakpoint
CREATE TABLE "devices" (
	"user_id" text NOT NULL,
	"device_id" text NOT NULL,
	"display_name" text,
	"last_seen_ts" bigint,
	"last_seen_ip" text,
	"created_ts" bigint NOT NULL,
	CONSTRAINT "devices_user_id_device_id_pk" PRIMARY KEY("user_id","device_id")
);
--> statement-breakpoint
CREATE TABLE "refresh_tokens" (
	"token_hash" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"device_id" text NOT NULL,
	"access_token_hash" text NOT NULL,
	"created_ts" bigint NOT NULL,
	"expires_ts" bigint
);
--> statement-breakpoint
CREATE TABLE "registration_tokens" (
	"token" text PRIMARY KEY NOT NULL,
	"uses_allowed" integer,
	"pending" integer DEFAULT 0 NOT NULL,
	"completed" integer DEFAULT 0 NOT NULL,
	"expiry_time" bigint
);
--> statement-breakpoint
CREATE TABLE "shared_secret_nonces" (
	"nonce" text PRIMARY KEY NOT NULL,
	"created_ts" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "uia_sessions" (
	"session_id" text PRIMARY KEY NOT NULL,
	"method" text NOT NULL,
	"path" text NOT NULL,
	"user_id" text,
	"completed" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"registration_token" text,
	"created_ts" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "users" (
	"user_id" text PRIMARY KEY NOT NULL,
	"password_hash" text,
	"admin" boolean DEFAULT false NOT NULL,
	"is_guest" boolean DEFAULT false NOT NULL,
	"user_type" text,
	"deactivated" boolean DEFAULT false NOT NULL,
	"erased" boolean DEFAULT false NOT NULL,
	"created_ts" bigint NOT NULL
);
--> statement-breakpoint
CREATE INDEX "access_tokens_user_idx" ON "access_tokens" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "refresh_tokens_user_idx" ON "refresh_tokens" USING btree ("user_id");