CREATE TABLE "e2e_cross_signing_keys" (
	"user_id" text NOT NULL,
	"usage" text NOT NULL,
	"public_key" text NOT NULL,
	"key_json" jsonb NOT NULL,
	"updated_ts" bigint NOT NULL,
	CONSTRAINT "e2e_cross_signing_keys_user_id_usage_pk" PRIMARY KEY("user_id","usage")
);
--> statement-breakpoint
CREATE TABLE "e2e_cross_signing_signatures" (
	"target_user_id" text NOT NULL,
	"target_key_id" text NOT NULL,
	"user_id" text NOT NULL,
	"key_id" text NOT NULL,
	"signature" text NOT NULL,
	CONSTRAINT "e2e_cross_signing_signatures_target_user_id_target_key_id_user_id_key_id_pk" PRIMARY KEY("target_user_id","target_key_id","user_id","key_id")
);
--> statement-breakpoint
CREATE TABLE "e2e_device_keys" (
	"user_id" text NOT NULL,
	"device_id" text NOT NULL,
	"key_json" jsonb NOT NULL,
	"updated_ts" bigint NOT NULL,
	CONSTRAINT "e2e_device_keys_user_id_device_id_pk" PRIMARY KEY("user_id","device_id")
);
--> statement-breakpoint
CREATE TABLE "e2e_fallback_keys" (
	"user_id" text NOT NULL,
	"device_id" text NOT NULL,
	"algorithm" text NOT NULL,
	"key_id" text NOT NULL,
	"key_json" jsonb NOT NULL,
	"used" boolean DEFAULT false NOT NULL,
	CONSTRAINT "e2e_fallback_keys_user_id_device_id_algorithm_pk" PRIMARY KEY("user_id","device_id","algorithm")
);
--> statement-breakpoint
CREATE TABLE "e2e_key_count_versions" (
	"user_id" text NOT NULL,
	"device_id" text NOT NULL,
	"version" bigint NOT NULL,
	CONSTRAINT "e2e_key_count_versions_user_id_device_id_pk" PRIMARY KEY("user_id","device_id")
);
--> statement-breakpoint
CREATE TABLE "e2e_one_time_keys" (
	"user_id" text NOT NULL,
	"device_id" text NOT NULL,
	"algorithm" text NOT NULL,
	"key_id" text NOT NULL,
	"key_json" jsonb NOT NULL,
	"uploaded_ts" bigint NOT NULL,
	CONSTRAINT "e2e_one_time_keys_user_id_device_id_algorithm_key_id_pk" PRIMARY KEY("user_id","device_id","algorithm","key_id")
);
--> statement-breakpoint
CREATE TABLE "e2e_room_key_versions" (
	"user_id" text NOT NULL,
	"version" bigint NOT NULL,
	"algorithm" text NOT NULL,
	"auth_data" jsonb NOT NULL,
	"etag" bigint DEFAULT 0 NOT NULL,
	"deleted" boolean DEFAULT false NOT NULL,
	CONSTRAINT "e2e_room_key_versions_user_id_version_pk" PRIMARY KEY("user_id","version")
);
--> statement-breakpoint
CREATE TABLE "e2e_room_keys" (
	"user_id" text NOT NULL,
	"version" bigint NOT NULL,
	"room_id" text NOT NULL,
	"session_id" text NOT NULL,
	"first_message_index" integer NOT NULL,
	"forwarded_count" integer NOT NULL,
	"is_verified" boolean NOT NULL,
	"session_data" jsonb NOT NULL,
	CONSTRAINT "e2e_room_keys_user_id_version_room_id_session_id_pk" PRIMARY KEY("user_id","version","room_id","session_id")
);
