CREATE TABLE "profiles" (
	"user_id" text PRIMARY KEY NOT NULL,
	"fields" jsonb NOT NULL
);
