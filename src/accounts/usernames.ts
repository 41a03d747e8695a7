/**
 * Which user IDs a new account may take: the spec's localpart grammar for new IDs
 * (a-z 0-9 . _ = - / +), the 255-byte limit of a full user ID, and Synapse's reservation of
 * localparts starting with `_` for bridges and services.
 */
import { MatrixError } from "../http/errors";

const MAX_USER_ID_BYTES = 255;
const encoder = new TextEncoder();

export function userIdFor(localpart: string, serverName: string): string {
  return `@${localpart}:${serverName}`;
}

/** Throws M_INVALID_USERNAME unless `localpart` may be registered on `serverName`. */
export function assertRegistrableLocalpart(localpart: string, serverName: string): void {
  if (localpart.length === 0) throw new MatrixError(400, "M_INVALID_USERNAME", "User ID cannot be empty");
  if (!/^[a-z0-9._=\-/+]+$/.test(localpart)) {
    throw new MatrixError(400, "M_INVALID_USERNAME", "User ID can only contain characters a-z, 0-9, or '=_-./+'");
  }
  if (localpart.startsWith("_")) {
    throw new MatrixError(400, "M_INVALID_USERNAME", "User ID may not begin with _ (reserved for services)");
  }
  if (encoder.encode(userIdFor(localpart, serverName)).length > MAX_USER_ID_BYTES) {
    throw new MatrixError(400, "M_INVALID_USERNAME", `User ID may not be longer than ${MAX_USER_ID_BYTES} bytes`);
  }
}

/**
 * The localpart a login names: a full user ID of this server, or a bare localpart.
 * Localparts are matched in lower case, as registration only ever creates lower-case ones.
 */
export function localpartFromLoginName(name: string, serverName: string): string | undefined {
  if (name.startsWith("@")) {
    const separator = name.indexOf(":");
    if (separator < 0 || name.slice(separator + 1) !== serverName) return undefined;
    return name.slice(1, separator).toLowerCase();
  }
  return name.toLowerCase();
}
