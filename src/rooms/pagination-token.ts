/**
 * Pagination tokens of a room's timeline (/messages `from`/`to`, /context `start`/`end`, /members `at`).
 * A token names a position in the room's stream: `r<N>` lies just after the event with stream ordering
 * N (`r0` is before the first event). Stream orderings are persisted, so tokens survive restarts.
 */
import { invalidParam } from "../http/errors";

const TOKEN = /^r(0|[1-9][0-9]{0,14})$/;

export function encodeRoomToken(position: number): string {
  return `r${position}`;
}

/** The stream position a token names; M_INVALID_PARAM for anything this server did not issue. */
export function decodeRoomToken(token: string, parameter: string): number {
  const match = TOKEN.exec(token);
  if (match === null) throw invalidParam(`Invalid ${parameter} token`);
  return Number(match[1]);
}
