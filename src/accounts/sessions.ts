/** Logging a device in (login, registration, shared-secret registration), through UserSessions. */
import type { Context } from "hono";
import { randomString } from "../core/crypto/secrets";
import type { AppEnv } from "../http/context";
import { clientAddress } from "../http/rate-limit";

export interface LoginResponse {
  user_id: string;
  access_token: string;
  device_id: string;
  refresh_token?: string;
  expires_in_ms?: number;
}

export function generateDeviceId(): string {
  return randomString(10, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
}

export function userSessions(c: Context<AppEnv>, userId: string) {
  return c.env.USER_SESSIONS.get(c.env.USER_SESSIONS.idFromName(userId));
}

export async function startSession(
  c: Context<AppEnv>,
  userId: string,
  options: { deviceId?: string; initialDisplayName?: string; withRefreshToken?: boolean },
): Promise<LoginResponse> {
  const deviceId = options.deviceId ?? generateDeviceId();
  const issued = await userSessions(c, userId).createSession({
    userId,
    deviceId,
    initialDisplayName: options.initialDisplayName,
    withRefreshToken: options.withRefreshToken ?? false,
    ip: clientAddress(c),
  });
  return {
    user_id: userId,
    access_token: issued.accessToken,
    device_id: deviceId,
    ...(issued.refreshToken !== undefined
      ? { refresh_token: issued.refreshToken, expires_in_ms: issued.expiresInMs }
      : {}),
  };
}
