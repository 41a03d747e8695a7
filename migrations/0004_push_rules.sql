CREATE TABLE "push_rules" (
	"user_id" text PRIMARY KEY NOT NULL,
	"document" jsonb NOT NULL
);
