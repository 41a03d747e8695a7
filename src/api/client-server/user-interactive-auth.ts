/**
 * User-interactive authentication (spec: Client-Server API, "User-Interactive Authentication API").
 * A session is bound to the method and path of the request that opened it and is consumed when a
 * flow completes, so a replayed session is refused.
 */
import { and, eq, lt, sql } from "drizzle-orm";
import type { Context } from "hono";
import { z } from "zod";
import { checkPassword, loginUserId, passwordCredentialsSchema } from "../../accounts/password-login";
import { randomString } from "../../core/crypto/secrets";
import type { Database } from "../../db/client";
import { registrationTokens, uiaSessions } from "../../db/schema";
import type { AppEnv } from "../../http/context";
import { MatrixError, forbidden } from "../../http/errors";
import { parseWithSchema } from "../../http/request-body";

export type UiaStage = "m.login.dummy" | "m.login.password" | "m.login.registration_token";

const SESSION_LIFETIME_MS = 15 * 60 * 1000;

/** The 401 answer that tells the client which stages remain; rendered as-is by the error handler. */
export class UiaChallenge extends Error {
  constructor(readonly body: Record<string, unknown>) {
    super("User-interactive authentication required");
  }
}

export interface UiaOptions {
  flows: UiaStage[][];
  /** For `m.login.password`: the account whose password must be given (the requester's). */
  userId?: string;
}

export interface UiaResult {
  /** The registration token a completed `m.login.registration_token` stage spent a use of. */
  registrationToken?: string;
}

const authSchema = z.looseObject({
  type: z.string().optional(),
  session: z.string().optional(),
});

function challenge(options: UiaOptions, session: string, completed: string[], error?: MatrixError): UiaChallenge {
  return new UiaChallenge({
    flows: options.flows.map((stages) => ({ stages })),
    params: {},
    session,
    ...(completed.length > 0 ? { completed } : {}),
    ...(error ? { errcode: error.errcode, error: error.message } : {}),
  });
}

async function spendRegistrationToken(db: Database, token: string): Promise<boolean> {
  const now = Date.now();
  const updated = await db
    .update(registrationTokens)
    .set({ pending: sql`${registrationTokens.pending} + 1` })
    .where(
      and(
        eq(registrationTokens.token, token),
        sql`(${registrationTokens.expiryTime} IS NULL OR ${registrationTokens.expiryTime} > ${now})`,
        sql`(${registrationTokens.usesAllowed} IS NULL OR ${registrationTokens.pending} + ${registrationTokens.completed} < ${registrationTokens.usesAllowed})`,
      ),
    )
    .returning({ token: registrationTokens.token });
  return updated.length > 0;
}

/** Moves a spent registration token use from pending to completed once the account exists. */
export async function confirmRegistrationTokenUse(db: Database, token: string): Promise<void> {
  await db
    .update(registrationTokens)
    .set({
      pending: sql`GREATEST(${registrationTokens.pending} - 1, 0)`,
      completed: sql`${registrationTokens.completed} + 1`,
    })
    .where(eq(registrationTokens.token, token));
}

async function completeStage(
  db: Database,
  c: Context<AppEnv>,
  stage: string,
  auth: Record<string, unknown>,
  options: UiaOptions,
): Promise<string | undefined> {
  switch (stage) {
    case "m.login.dummy":
      return undefined;
    case "m.login.password": {
      const credentials = parseWithSchema(passwordCredentialsSchema, auth);
      const userId = loginUserId(credentials, c.get("config").serverName);
      if (options.userId === undefined || userId !== options.userId) throw forbidden("Invalid username or password");
      await checkPassword(db, userId, credentials.password);
      return undefined;
    }
    case "m.login.registration_token": {
      const token = auth.token;
      if (typeof token !== "string" || !(await spendRegistrationToken(db, token))) {
        throw new MatrixError(401, "M_UNAUTHORIZED", "Invalid registration token");
      }
      return token;
    }
    default:
      throw new MatrixError(400, "M_UNRECOGNIZED", `Unrecognised authentication type: ${stage}`);
  }
}

/**
 * Runs one round of UIA for the request whose JSON body is `body`. Returns when a flow is complete;
 * otherwise throws the 401 challenge (or an error for a bad session).
 */
export async function requireUserInteractiveAuth(
  c: Context<AppEnv>,
  body: Record<string, unknown>,
  options: UiaOptions,
): Promise<UiaResult> {
  const db = c.get("database").db;
  const method = c.req.method;
  const path = new URL(c.req.url).pathname.replace(/^\/_matrix\/client\/(r0|v3)\//, "/");
  const now = Date.now();
  const auth = body.auth === undefined ? undefined : parseWithSchema(authSchema, body.auth);

  if (auth?.session === undefined) {
    await db.delete(uiaSessions).where(lt(uiaSessions.createdTs, now - SESSION_LIFETIME_MS));
    const sessionId = randomString(24);
    await db.insert(uiaSessions).values({ sessionId, method, path, userId: options.userId ?? null, createdTs: now });
    if (auth?.type === undefined) throw challenge(options, sessionId, []);
    // A client may complete a stage in its very first request (e.g. m.login.dummy straight away).
    return advance(c, db, sessionId, [], auth, options);
  }

  const [session] = await db.select().from(uiaSessions).where(eq(uiaSessions.sessionId, auth.session));
  if (!session || session.createdTs < now - SESSION_LIFETIME_MS) {
    throw new MatrixError(400, "M_UNKNOWN", `Unknown session ID: ${auth.session}`);
  }
  if (session.method !== method || session.path !== path || session.userId !== (options.userId ?? null)) {
    throw forbidden("Requested operation has changed during the UI authentication session.");
  }
  if (auth.type === undefined) throw challenge(options, session.sessionId, session.completed);
  return advance(c, db, session.sessionId, session.completed, auth, options);
}

async function advance(
  c: Context<AppEnv>,
  db: Database,
  sessionId: string,
  completedBefore: string[],
  auth: Record<string, unknown> & { type?: string },
  options: UiaOptions,
): Promise<UiaResult> {
  const stage = auth.type ?? "";
  if (!options.flows.some((flow) => (flow as string[]).includes(stage))) {
    throw new MatrixError(400, "M_UNRECOGNIZED", `Unrecognised authentication type: ${stage}`);
  }
  let spentToken: string | undefined;
  try {
    spentToken = await completeStage(db, c, stage, auth, options);
  } catch (error) {
    if (error instanceof MatrixError && (error.status === 401 || error.status === 403)) {
      throw challenge(options, sessionId, completedBefore, error);
    }
    throw error;
  }
  const completed = completedBefore.includes(stage) ? completedBefore : [...completedBefore, stage];
  const finished = options.flows.some((flow) => flow.every((s) => completed.includes(s)));
  if (finished) {
    // Consuming the session is what makes a replay fail.
    const [consumed] = await db.delete(uiaSessions).where(eq(uiaSessions.sessionId, sessionId)).returning();
    if (!consumed) throw new MatrixError(400, "M_UNKNOWN", `Unknown session ID: ${sessionId}`);
    return { registrationToken: spentToken ?? consumed.registrationToken ?? undefined };
  }
  await db
    .update(uiaSessions)
    .set({ completed, ...(spentToken ? { registrationToken: spentToken } : {}) })
    .where(eq(uiaSessions.sessionId, sessionId));
  throw challenge(options, sessionId, completed);
}
