/**
 * `npm run register-user -- -u NAME -p PASS [--admin] [--url URL] [--secret SECRET]`
 * Creates a user on a running homeserver through shared-secret registration, like Synapse's
 * register_new_matrix_user. The secret comes from --secret, REGISTRATION_SHARED_SECRET, or the
 * local data directory (DATA_DIR, default .data) that `npm start` generated it in.
 */
import { createHmac } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    user: { type: "string", short: "u" },
    password: { type: "string", short: "p" },
    admin: { type: "boolean", short: "a", default: false },
    url: { type: "string" },
    secret: { type: "string" },
  },
});

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

function sharedSecret(): string {
  if (values.secret) return values.secret;
  if (process.env.REGISTRATION_SHARED_SECRET) return process.env.REGISTRATION_SHARED_SECRET;
  const file = join(resolve(process.env.DATA_DIR ?? ".data"), "secrets.json");
  if (existsSync(file)) {
    return (JSON.parse(readFileSync(file, "utf8")) as { registrationSharedSecret: string }).registrationSharedSecret;
  }
  return fail("No shared secret: pass --secret, set REGISTRATION_SHARED_SECRET, or run from the server's directory.");
}

const username = values.user ?? fail("usage: npm run register-user -- -u NAME -p PASS [--admin] [--url URL]");
const password = values.password ?? fail("a password is required (-p PASS)");
const baseUrl = (values.url ?? process.env.HOMESERVER_URL ?? `http://127.0.0.1:${process.env.PORT ?? 8008}`).replace(
  /\/+$/,
  "",
);
const endpoint = `${baseUrl}/_synapse/admin/v1/register`;

const nonceResponse = await fetch(endpoint);
const nonceBody = (await nonceResponse.json()) as { nonce?: string; error?: string };
if (!nonceResponse.ok || !nonceBody.nonce) fail(`Could not get a nonce: ${nonceBody.error ?? nonceResponse.status}`);
const mac = createHmac("sha1", sharedSecret())
  .update([nonceBody.nonce, username, password, values.admin ? "admin" : "notadmin"].join("\x00"))
  .digest("hex");
const response = await fetch(endpoint, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ nonce: nonceBody.nonce, username, password, admin: values.admin, mac }),
});
const result = (await response.json()) as { user_id?: string; error?: string; errcode?: string };
if (!response.ok) fail(`Registration failed: ${result.errcode ?? response.status} ${result.error ?? ""}`);
console.log(`Registered ${result.user_id}${values.admin ? " (admin)" : ""}`);
