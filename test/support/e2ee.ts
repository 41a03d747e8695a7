/**
 * End-to-end encryption keys made in tests, signed for real with ed25519 (the server checks every
 * signature): device keys, signed one-time and fallback keys, and cross-signing keys.
 */
import { encodeBase64 } from "../../src/core/crypto/base64";
import { ED25519_SEED_LENGTH, signingKeyFromSeed, type SigningKey } from "../../src/core/crypto/ed25519";
import { computeJsonSignature } from "../../src/core/crypto/signing";

export type Signed = Record<string, unknown> & { signatures?: Record<string, Record<string, string>> };

/** An ed25519 key pair; `publicKey` is unpadded base64. */
export interface KeyPair {
  publicKey: string;
  signingKey: SigningKey;
}

export async function keyPair(): Promise<KeyPair> {
  // The SigningKey's own ID does not matter here: signatures are attached under the name given to signAs.
  const signingKey = await signingKeyFromSeed("ed25519:test", crypto.getRandomValues(new Uint8Array(ED25519_SEED_LENGTH)));
  return { publicKey: encodeBase64(signingKey.publicKey), signingKey };
}

/** A copy of `obj` with `signatures[userId]["ed25519:<keyName>"]` added. */
export async function signAs<T extends Signed>(obj: T, userId: string, keyName: string, key: KeyPair): Promise<T> {
  const signature = await computeJsonSignature(obj, key.signingKey);
  const signatures = { ...obj.signatures, [userId]: { ...obj.signatures?.[userId], [`ed25519:${keyName}`]: signature } };
  return { ...obj, signatures };
}

/** A random 32-byte key, unpadded base64 (curve25519 keys are not checked beyond their form). */
export function randomPublicKey(): string {
  return encodeBase64(crypto.getRandomValues(new Uint8Array(32)));
}

export interface TestDevice {
  userId: string;
  deviceId: string;
  key: KeyPair;
  /** The signed device keys, as POST /keys/upload takes them. */
  deviceKeys: Signed;
}

export async function testDevice(userId: string, deviceId: string): Promise<TestDevice> {
  const key = await keyPair();
  const deviceKeys = await signAs(
    {
      user_id: userId,
      device_id: deviceId,
      algorithms: ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
      keys: { [`curve25519:${deviceId}`]: randomPublicKey(), [`ed25519:${deviceId}`]: key.publicKey },
    },
    userId,
    deviceId,
    key,
  );
  return { userId, deviceId, key, deviceKeys };
}

/** `count` signed_curve25519 keys signed by the device, named `signed_curve25519:<prefix><n>`. */
export async function oneTimeKeys(device: TestDevice, count: number, prefix = "AAAA", fallback = false): Promise<Record<string, Signed>> {
  const keys: Record<string, Signed> = {};
  for (let n = 0; n < count; n++) {
    const key: Signed = { key: randomPublicKey(), ...(fallback ? { fallback: true } : {}) };
    keys[`signed_curve25519:${prefix}${n}`] = await signAs(key, device.userId, device.deviceId, device.key);
  }
  return keys;
}

export interface CrossSigningKeys {
  master: KeyPair;
  selfSigning: KeyPair;
  userSigning: KeyPair;
  /** The body of POST /keys/device_signing/upload. */
  upload: { master_key: Signed; self_signing_key: Signed; user_signing_key: Signed };
}

export async function crossSigningKeys(userId: string): Promise<CrossSigningKeys> {
  const [master, selfSigning, userSigning] = await Promise.all([keyPair(), keyPair(), keyPair()]);
  const keyObject = (usage: string, pair: KeyPair): Signed => ({
    user_id: userId,
    usage: [usage],
    keys: { [`ed25519:${pair.publicKey}`]: pair.publicKey },
  });
  return {
    master,
    selfSigning,
    userSigning,
    upload: {
      master_key: keyObject("master", master),
      self_signing_key: await signAs(keyObject("self_signing", selfSigning), userId, master.publicKey, master),
      user_signing_key: await signAs(keyObject("user_signing", userSigning), userId, master.publicKey, master),
    },
  };
}
