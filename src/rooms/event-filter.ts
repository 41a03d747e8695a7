/**
 * RoomEventFilter (client-server API, "Filtering"), as passed in the `filter` query parameter of
 * /messages and /context: which events to include, and whether to lazy-load membership events.
 */
import { z } from "zod";
import type { JsonObject } from "../core/events/pdu";
import { MatrixError, badJson } from "../http/errors";
import { zodErrorToMatrixError } from "../http/request-body";

export const roomEventFilterSchema = z.object({
  limit: z.number().int().optional(),
  types: z.array(z.string()).optional(),
  not_types: z.array(z.string()).optional(),
  senders: z.array(z.string()).optional(),
  not_senders: z.array(z.string()).optional(),
  rooms: z.array(z.string()).optional(),
  not_rooms: z.array(z.string()).optional(),
  contains_url: z.boolean().optional(),
  lazy_load_members: z.boolean().optional(),
  include_redundant_members: z.boolean().optional(),
  unread_thread_notifications: z.boolean().optional(),
});

export type RoomEventFilter = z.infer<typeof roomEventFilterSchema>;

/** A `filter` query parameter holding JSON: M_NOT_JSON if it is not JSON, M_BAD_JSON if not an object. */
export function parseFilterParamObject(text: string): object {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new MatrixError(400, "M_NOT_JSON", "The filter parameter is not valid JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw badJson("The filter must be a JSON object");
  return parsed;
}

/** Parses the `filter` query parameter: M_NOT_JSON if it is not JSON, M_BAD_JSON if not a RoomEventFilter. */
export function parseRoomEventFilter(text: string | undefined): RoomEventFilter {
  if (text === undefined || text === "") return {};
  const parsed = parseFilterParamObject(text);
  const result = roomEventFilterSchema.safeParse(parsed);
  if (!result.success) throw zodErrorToMatrixError(result.error, parsed);
  return result.data;
}

/** `*` matches any sequence of characters; everything else literally. */
function matchesTypePattern(pattern: string, type: string): boolean {
  if (!pattern.includes("*")) return pattern === type;
  const parts = pattern.split("*").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${parts.join(".*")}$`, "s").test(type);
}

/** Whether the filter lets any event of `roomId` through at all. */
export function filterAllowsRoom(filter: RoomEventFilter, roomId: string): boolean {
  if (filter.not_rooms?.includes(roomId)) return false;
  return filter.rooms === undefined || filter.rooms.includes(roomId);
}

export interface FilterableEvent {
  type: string;
  sender: string;
  content: JsonObject;
}

/** Whether the filter lets an event through (exclusions win over inclusions, as the spec says). */
export function matchesRoomEventFilter(filter: RoomEventFilter, event: FilterableEvent): boolean {
  if (filter.not_senders?.includes(event.sender)) return false;
  if (filter.senders !== undefined && !filter.senders.includes(event.sender)) return false;
  if (filter.not_types?.some((pattern) => matchesTypePattern(pattern, event.type))) return false;
  if (filter.types !== undefined && !filter.types.some((pattern) => matchesTypePattern(pattern, event.type))) return false;
  if (filter.contains_url !== undefined && (typeof event.content["url"] === "string") !== filter.contains_url) return false;
  return true;
}
