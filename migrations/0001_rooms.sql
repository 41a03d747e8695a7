CREATE TABLE "room_aliases" (
	"alias" text PRIMARY KEY NOT NULL,
	"room_id" text NOT NULL,
	"creator" text NOT NULL,
	"created_ts" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "room_memberships" (
	"room_id" text NOT NULL,
	"user_id" text NOT NULL,
	"membership" text NOT NULL,
	"event_id" text NOT NULL,
	"stream_ordering" bigint NOT NULL,
	"forgotten" boolean DEFAULT false NOT NULL,
	"updated_ts" bigint NOT NULL,
	CONSTRAINT "room_memberships_room_id_user_id_pk" PRIMARY KEY("room_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "rooms" (
	"room_id" text PRIMARY KEY NOT NULL,
	"room_version" text NOT NULL,
	"creator" text NOT NULL,
	"is_public" boolean DEFAULT false NOT NULL,
	"created_ts" bigint NOT NULL
);
--> statement-breakpoint
CREATE INDEX "room_aliases_room_idx" ON "room_aliases" USING btree ("room_id");--> statement-breakpoint
CREATE INDEX "room_memberships_user_idx" ON "room_memberships" USING btree ("user_id","membership");