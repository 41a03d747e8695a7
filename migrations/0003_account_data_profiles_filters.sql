CREATE TABLE "account_data" (
	"user_id" text NOT NULL,
	"room_id" text DEFAULT '' NOT NULL,
	"type" text NOT NULL,
	"content" jsonb NOT NULL,
	"updated_ts" bigint NOT NULL,
	CONSTRAINT "account_data_user_id_room_id_type_pk" PRIMARY KEY("user_id","room_id","type")
);
--> statement-breakpoint
CREATE TABLE "profiles" (
	"user_id" text PRIMARY KEY NOT NULL,
	"fields" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "user_filters" (
	"user_id" text NOT NULL,
	"filter_id" integer NOT NULL,
	"definition" jsonb NOT NULL,
	CONSTRAINT "user_filters_user_id_filter_id_pk" PRIMARY KEY("user_id","filter_id")
);
