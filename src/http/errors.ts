/**
 * The one HTTP error helper: every failure a handler reports is a MatrixError,
 * rendered by the app's error handler as the spec's `{errcode, error}` body.
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";

export type MatrixErrorCode =
  | "M_FORBIDDEN"
  | "M_UNKNOWN_TOKEN"
  | "M_MISSING_TOKEN"
  | "M_USER_LOCKED"
  | "M_USER_SUSPENDED"
  | "M_BAD_JSON"
  | "M_NOT_JSON"
  | "M_NOT_FOUND"
  | "M_LIMIT_EXCEEDED"
  | "M_UNRECOGNIZED"
  | "M_UNKNOWN"
  | "M_UNAUTHORIZED"
  | "M_USER_DEACTIVATED"
  | "M_USER_IN_USE"
  | "M_INVALID_USERNAME"
  | "M_ROOM_IN_USE"
  | "M_INVALID_ROOM_STATE"
  | "M_THREEPID_IN_USE"
  | "M_THREEPID_NOT_FOUND"
  | "M_THREEPID_AUTH_FAILED"
  | "M_THREEPID_DENIED"
  | "M_SERVER_NOT_TRUSTED"
  | "M_UNSUPPORTED_ROOM_VERSION"
  | "M_INCOMPATIBLE_ROOM_VERSION"
  | "M_BAD_STATE"
  | "M_BAD_ALIAS"
  | "M_GUEST_ACCESS_FORBIDDEN"
  | "M_CAPTCHA_NEEDED"
  | "M_CAPTCHA_INVALID"
  | "M_MISSING_PARAM"
  | "M_INVALID_PARAM"
  | "M_TOO_LARGE"
  | "M_EXCLUSIVE"
  | "M_RESOURCE_LIMIT_EXCEEDED"
  | "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM"
  | "M_WEAK_PASSWORD"
  | "M_PASSWORD_TOO_SHORT"
  | "M_WRONG_ROOM_KEYS_VERSION"
  | "M_INVALID_SIGNATURE"
  | "M_NOT_YET_UPLOADED"
  | "M_CANNOT_OVERWRITE_MEDIA"
  | "M_PROFILE_TOO_LARGE"
  | "M_KEY_TOO_LARGE";

export class MatrixError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly errcode: MatrixErrorCode,
    message: string,
    /** Extra top-level fields of the error body, e.g. `retry_after_ms` or `soft_logout`. */
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "MatrixError";
  }

  toJSON(): Record<string, unknown> {
    return { errcode: this.errcode, error: this.message, ...this.extra };
  }
}

export const forbidden = (message: string): MatrixError => new MatrixError(403, "M_FORBIDDEN", message);
export const badJson = (message: string): MatrixError => new MatrixError(400, "M_BAD_JSON", message);
export const missingParam = (message: string): MatrixError => new MatrixError(400, "M_MISSING_PARAM", message);
export const invalidParam = (message: string): MatrixError => new MatrixError(400, "M_INVALID_PARAM", message);
export const notFound = (message: string): MatrixError => new MatrixError(404, "M_NOT_FOUND", message);

export function limitExceeded(retryAfterMs: number): MatrixError {
  const retry = Math.max(1, Math.ceil(retryAfterMs));
  return new MatrixError(
    429,
    "M_LIMIT_EXCEEDED",
    "Too many requests",
    { retry_after_ms: retry },
    { "Retry-After": String(Math.ceil(retry / 1000)) },
  );
}
