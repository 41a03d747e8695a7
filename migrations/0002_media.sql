CREATE TABLE "media" (
	"media_id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"media_type" text,
	"upload_name" text,
	"media_length" bigint,
	"created_ts" bigint NOT NULL,
	"uploaded_ts" bigint,
	"unused_expires_ts" bigint,
	"upload_locked_until_ts" bigint,
	"url_cache" text
);
--> statement-breakpoint
CREATE TABLE "url_previews" (
	"url" text NOT NULL,
	"download_ts" bigint NOT NULL,
	"expires_ts" bigint NOT NULL,
	"og" jsonb NOT NULL,
	CONSTRAINT "url_previews_url_download_ts_pk" PRIMARY KEY("url","download_ts")
);
--> statement-breakpoint
CREATE INDEX "media_user_idx" ON "media" USING btree ("user_id","uploaded_ts");