/**
 * Access and refresh tokens. A token names its owner (hex of the user ID) so that the Worker can route
 * the check to that user's UserSessions Durable Object without asking Postgres who owns it; the random
 * part carries the secret. Only SHA-256 hashes of tokens are ever stored.
 */
import { bytesToHex, hexToBytes, randomString, sha256Hex } from "../core/crypto/secrets";

const ACCESS_PREFIX = "mat";
const REFRESH_PREFIX = "mar";
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

function mint(prefix: string, userId: string): string {
  return `${prefix}_${bytesToHex(encoder.encode(userId))}_${randomString(40)}`;
}

export const mintAccessToken = (userId: string): string => mint(ACCESS_PREFIX, userId);
export const mintRefreshToken = (userId: string): string => mint(REFRESH_PREFIX, userId);

function ownerOf(prefix: string, token: string): string | undefined {
  const parts = token.split("_");
  if (parts.length !== 3 || parts[0] !== prefix || !parts[1] || parts[2]?.length !== 40) return undefined;
  try {
    return decoder.decode(hexToBytes(parts[1]));
  } catch {
    return undefined;
  }
}

export const accessTokenOwner = (token: string): string | undefined => ownerOf(ACCESS_PREFIX, token);
export const refreshTokenOwner = (token: string): string | undefined => ownerOf(REFRESH_PREFIX, token);
export const hashToken = (token: string): Promise<string> => sha256Hex(token);
