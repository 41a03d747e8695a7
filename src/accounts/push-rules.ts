/**
 * A user's push rules: the server defaults with the user's changes applied, plus the user's own rules.
 * Postgres holds the changes as one document per user; every change is also sent to the user's sync
 * stream as the `m.push_rules` account data event clients read.
 */
import { eq } from "drizzle-orm";
import type { Context } from "hono";
import type { JsonObject } from "../core/events/pdu";
import { PUSH_RULE_KINDS, combineRulesets, defaultPushRules, type PushAction, type PushRule, type PushRuleKind, type Ruleset } from "../core/push-rules";
import type { Database } from "../db/client";
import { pushRules } from "../db/schema";
import type { AppEnv } from "../http/context";
import { userSyncStub } from "../sync/user-sync-stub";

/** What a user changed: their own rules, and `enabled`/`actions` of server-default rules by rule ID. */
export interface PushRuleChanges {
  user: Ruleset;
  defaults: Record<string, { enabled?: boolean; actions?: PushAction[] }>;
}

const emptyChanges = (): PushRuleChanges => ({
  user: { override: [], content: [], room: [], sender: [], underride: [] },
  defaults: {},
});

export function effectiveRuleset(userId: string, changes: PushRuleChanges): Ruleset {
  const defaults = defaultPushRules(userId);
  const adjust = (rules: PushRule[]): PushRule[] =>
    rules.map((rule) => ({ ...rule, ...changes.defaults[rule.rule_id] }));
  const adjusted: Ruleset = {
    override: adjust(defaults.override),
    content: adjust(defaults.content),
    room: adjust(defaults.room),
    sender: adjust(defaults.sender),
    underride: adjust(defaults.underride),
  };
  return combineRulesets(adjusted, changes.user);
}

export async function readPushRuleChanges(db: Database, userId: string): Promise<PushRuleChanges> {
  const [row] = await db.select({ document: pushRules.document }).from(pushRules).where(eq(pushRules.userId, userId));
  return (row?.document as PushRuleChanges | undefined) ?? emptyChanges();
}

/** The `m.push_rules` account data content. */
export function pushRulesAccountData(userId: string, changes: PushRuleChanges): JsonObject {
  return { global: effectiveRuleset(userId, changes) } as unknown as JsonObject;
}

/**
 * Applies `change` to the user's rules under a row lock (concurrent edits never lose each other), then
 * tells the user's sync stream. `change` may throw to refuse the edit.
 */
export async function updatePushRules(
  c: Context<AppEnv>,
  userId: string,
  change: (changes: PushRuleChanges, effective: Ruleset) => void,
): Promise<void> {
  const db = c.get("database").db;
  const updated = await db.transaction(async (tx) => {
    await tx.insert(pushRules).values({ userId, document: { ...emptyChanges() } }).onConflictDoNothing();
    const [row] = await tx.select({ document: pushRules.document }).from(pushRules).where(eq(pushRules.userId, userId)).for("update");
    const changes = structuredClone((row?.document as PushRuleChanges | undefined) ?? emptyChanges());
    change(changes, effectiveRuleset(userId, changes));
    await tx.update(pushRules).set({ document: { ...changes } }).where(eq(pushRules.userId, userId));
    return changes;
  });
  await userSyncStub(c.env, userId).accountDataChanged("", "m.push_rules", pushRulesAccountData(userId, updated));
}

export function isPushRuleKind(kind: string): kind is PushRuleKind {
  return (PUSH_RULE_KINDS as readonly string[]).includes(kind);
}
