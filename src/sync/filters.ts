/**
 * Sync filters (spec: "Filtering"): the Filter object of POST /user/{userId}/filter and of /sync's
 * `filter` parameter, built on the RoomEventFilter that /messages shares.
 */
import { z } from "zod";
import { zodErrorToMatrixError } from "../http/request-body";
import { parseFilterParamObject, roomEventFilterSchema, type RoomEventFilter } from "../rooms/event-filter";

const eventFilterSchema = z.object({
  limit: z.number().int().min(1).optional(),
  types: z.array(z.string()).optional(),
  not_types: z.array(z.string()).optional(),
  senders: z.array(z.string()).optional(),
  not_senders: z.array(z.string()).optional(),
});

const roomFilterSchema = z.object({
  rooms: z.array(z.string()).optional(),
  not_rooms: z.array(z.string()).optional(),
  include_leave: z.boolean().optional(),
  state: roomEventFilterSchema.optional(),
  timeline: roomEventFilterSchema.optional(),
  ephemeral: roomEventFilterSchema.optional(),
  account_data: roomEventFilterSchema.optional(),
});

export const filterSchema = z.object({
  event_fields: z.array(z.string()).optional(),
  event_format: z.enum(["client", "federation"]).optional(),
  presence: eventFilterSchema.optional(),
  account_data: eventFilterSchema.optional(),
  room: roomFilterSchema.optional(),
});

export type Filter = z.infer<typeof filterSchema>;
export type EventFilter = z.infer<typeof eventFilterSchema>;
export type { RoomEventFilter };

export function parseFilter(value: unknown): Filter {
  const result = filterSchema.safeParse(value);
  if (!result.success) throw zodErrorToMatrixError(result.error, value);
  return result.data;
}

/** The `filter` query parameter of /sync holds either a filter ID or the filter itself as JSON. */
export function inlineFilterFromParam(text: string): Filter | undefined {
  if (!text.trimStart().startsWith("{")) return undefined;
  return parseFilter(parseFilterParamObject(text));
}
