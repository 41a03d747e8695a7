/**
 * Reading JSON request bodies: size limit (M_TOO_LARGE), syntax (M_NOT_JSON), shape (M_BAD_JSON,
 * M_MISSING_PARAM) — validated with zod so a handler only ever sees a well-typed body.
 */
import type { Context } from "hono";
import { z } from "zod";
import { loadConfig } from "../config";
import { MatrixError, badJson, missingParam } from "./errors";

async function readBodyText(c: Context): Promise<string> {
  const limit = loadConfig(c.env as Record<string, unknown>).maxJsonBodyBytes;
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > limit) throw new MatrixError(413, "M_TOO_LARGE", "Request body too large");
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  if (bytes.byteLength > limit) throw new MatrixError(413, "M_TOO_LARGE", "Request body too large");
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new MatrixError(400, "M_NOT_JSON", "Request body is not valid UTF-8");
  }
}

/** Parses the body as a JSON object; an empty body counts as `{}` when `allowEmpty` is set (as Synapse does for POSTs with optional bodies). */
export async function readJsonObject(c: Context, allowEmpty = false): Promise<Record<string, unknown>> {
  const text = await readBodyText(c);
  if (text.trim() === "") {
    if (allowEmpty) return {};
    throw new MatrixError(400, "M_NOT_JSON", "Request body is empty; expected a JSON object");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new MatrixError(400, "M_NOT_JSON", "Content not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw badJson("Content must be a JSON object");
  }
  return parsed as Record<string, unknown>;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const key of path) {
    if (typeof current !== "object" || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** Turns a zod failure into the spec's error: an absent required field is M_MISSING_PARAM, anything else M_BAD_JSON. */
export function zodErrorToMatrixError(error: z.ZodError, input: unknown): MatrixError {
  const issue = error.issues[0];
  if (!issue) return badJson("Invalid request body");
  const where = issue.path.length > 0 ? issue.path.map(String).join(".") : "body";
  if (issue.code === "invalid_type" && issue.path.length > 0 && valueAt(input, issue.path) === undefined) {
    return missingParam(`Missing parameter: ${where}`);
  }
  return badJson(`Invalid parameter ${where}: ${issue.message}`);
}

export function parseWithSchema<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const result = schema.safeParse(input);
  if (!result.success) throw zodErrorToMatrixError(result.error, input);
  return result.data;
}

export async function readJsonBody<T extends z.ZodType>(c: Context, schema: T, allowEmpty = false): Promise<z.infer<T>> {
  return parseWithSchema(schema, await readJsonObject(c, allowEmpty));
}
