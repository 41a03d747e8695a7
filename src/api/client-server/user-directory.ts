/**
 * User directory search (spec: "User directory"): local users who share a room with the searcher or are
 * in a room published to the room directory, matched on user ID and display name.
 */
import { sql } from "drizzle-orm";
import type { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { readJsonBody } from "../../http/request-body";

const searchSchema = z.object({
  search_term: z.string(),
  limit: z.number().int().min(1).optional(),
});

const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 50;

type DirectoryRow = {
  user_id: string;
  display_name: string | null;
  avatar_url: string | null;
};

/** `%`, `_` and `\` are literal in a search term. */
function likePattern(term: string): string {
  return `%${term.replace(/[\\%_]/g, (character) => `\\${character}`)}%`;
}

export function registerUserDirectoryRoutes(client: Hono<AppEnv>): void {
  client.post("/user_directory/search", requireAuth, async (c) => {
    const body = await readJsonBody(c, searchSchema);
    const limit = Math.min(body.limit ?? DEFAULT_LIMIT, MAX_LIMIT);
    const searcher = c.get("requester").userId;
    const pattern = likePattern(body.search_term.trim());
    const result = await c.get("database").db.execute<DirectoryRow>(sql`
      WITH visible AS (
        SELECT other.user_id FROM room_memberships mine
          JOIN room_memberships other ON other.room_id = mine.room_id AND other.membership = 'join'
          WHERE mine.user_id = ${searcher} AND mine.membership = 'join'
        UNION
        SELECT m.user_id FROM room_memberships m JOIN rooms r ON r.room_id = m.room_id
          WHERE r.is_public AND m.membership = 'join'
      )
      SELECT u.user_id, p.fields->>'displayname' AS display_name, p.fields->>'avatar_url' AS avatar_url
      FROM visible v
        JOIN users u ON u.user_id = v.user_id AND NOT u.deactivated
        LEFT JOIN profiles p ON p.user_id = u.user_id
      WHERE u.user_id ILIKE ${pattern} OR p.fields->>'displayname' ILIKE ${pattern}
      ORDER BY (p.fields->>'displayname' ILIKE ${pattern}) DESC, u.user_id
      LIMIT ${limit + 1}`);
    const rows = result.rows;
    return c.json({
      limited: rows.length > limit,
      results: rows.slice(0, limit).map((row) => ({
        user_id: row.user_id,
        ...(row.display_name !== null ? { display_name: row.display_name } : {}),
        ...(row.avatar_url !== null ? { avatar_url: row.avatar_url } : {}),
      })),
    });
  });
}
