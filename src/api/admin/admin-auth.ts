/** Admin API access: an authenticated requester whose account is a server admin. */
import type { MiddlewareHandler } from "hono";
import { findUser } from "../../accounts/users";
import { authenticate } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { forbidden } from "../../http/errors";

export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const requester = await authenticate(c);
  const account = await findUser(c.get("database").db, requester.userId);
  if (!account?.admin) throw forbidden("You are not a server admin");
  c.set("requester", requester);
  await next();
};
