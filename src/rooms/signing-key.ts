/**
 * The server's event signing key, parsed from the SIGNING_KEY setting once per isolate (importing and
 * deriving the public key costs about as much as a signature, and every event needs one).
 */
import type { Config } from "../config";
import { parseSigningKeyFile, type SigningKey } from "../core/crypto/ed25519";
import type { ServerIdentity } from "./event-builder";

const parsedKeys = new Map<string, Promise<SigningKey>>();

/** The first key of the signing key file: the one new events are signed with. */
export function serverSigningKey(config: Config): Promise<SigningKey> {
  const keyFile = config.signingKey;
  if (keyFile === undefined) {
    return Promise.reject(new Error("SIGNING_KEY is not configured: the server cannot sign events"));
  }
  let parsed = parsedKeys.get(keyFile);
  if (parsed === undefined) {
    parsed = parseSigningKeyFile(keyFile).then((keys) => {
      const [first] = keys;
      if (first === undefined) throw new Error("SIGNING_KEY contains no key");
      return first;
    });
    // A malformed setting must not stay cached: the error should repeat, not turn into a stale promise.
    parsed.catch(() => parsedKeys.delete(keyFile));
    parsedKeys.set(keyFile, parsed);
  }
  return parsed;
}

export async function serverIdentity(config: Config): Promise<ServerIdentity> {
  return { serverName: config.serverName, signingKey: await serverSigningKey(config) };
}
