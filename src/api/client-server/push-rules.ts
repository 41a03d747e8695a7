/** Push rules (spec: "Push Rules: API"): the `global` ruleset, its rules, their `enabled` and `actions`. */
import type { Context, Hono } from "hono";
import { z } from "zod";
import {
  effectiveRuleset,
  isPushRuleKind,
  readPushRuleChanges,
  updatePushRules,
  type PushRuleChanges,
} from "../../accounts/push-rules";
import type { PushAction, PushCondition, PushRule, PushRuleKind, Ruleset } from "../../core/push-rules";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { MatrixError, invalidParam, missingParam, notFound } from "../../http/errors";
import { readJsonBody } from "../../http/request-body";

const actionSchema = z.union([z.string(), z.looseObject({ set_tweak: z.string() })]);
const ruleSchema = z.object({
  actions: z.array(actionSchema),
  conditions: z.array(z.looseObject({ kind: z.string() })).optional(),
  pattern: z.string().optional(),
});

async function ruleset(c: Context<AppEnv>): Promise<Ruleset> {
  const userId = c.get("requester").userId;
  return effectiveRuleset(userId, await readPushRuleChanges(c.get("database").db, userId));
}

function kindParam(c: Context<AppEnv>): PushRuleKind {
  const kind = c.req.param("kind") ?? "";
  if (!isPushRuleKind(kind)) throw invalidParam(`Unknown push rule kind: ${kind}`);
  return kind;
}

function findRule(rules: Ruleset, kind: PushRuleKind, ruleId: string): PushRule {
  const rule = rules[kind].find((candidate) => candidate.rule_id === ruleId);
  if (!rule) throw notFound("Unknown push rule");
  return rule;
}

function userRule(changes: PushRuleChanges, kind: PushRuleKind, ruleId: string): PushRule | undefined {
  return changes.user[kind].find((rule) => rule.rule_id === ruleId);
}

export function registerPushRuleRoutes(client: Hono<AppEnv>): void {
  client.get("/pushrules/", requireAuth, async (c) => c.json({ global: await ruleset(c) }));
  client.get("/pushrules/global/", requireAuth, async (c) => c.json(await ruleset(c)));

  client.get("/pushrules/global/:kind/:ruleId", requireAuth, async (c) =>
    c.json(findRule(await ruleset(c), kindParam(c), c.req.param("ruleId"))),
  );

  client.put("/pushrules/global/:kind/:ruleId", requireAuth, async (c) => {
    const kind = kindParam(c);
    const ruleId = c.req.param("ruleId");
    if (ruleId.startsWith(".")) throw invalidParam("Rule IDs starting with '.' are reserved for server-default rules");
    const body = await readJsonBody(c, ruleSchema);
    if (kind === "content" && body.pattern === undefined) throw missingParam("Content rules need a pattern");
    const before = c.req.query("before");
    const after = c.req.query("after");
    const rule: PushRule = {
      rule_id: ruleId,
      default: false,
      enabled: true,
      actions: body.actions as PushAction[],
      ...(kind === "content" ? { pattern: body.pattern } : {}),
      ...(kind === "override" || kind === "underride" ? { conditions: (body.conditions ?? []) as PushCondition[] } : {}),
    };
    await updatePushRules(c, c.get("requester").userId, (changes) => {
      const rules = changes.user[kind];
      const existingIndex = rules.findIndex((candidate) => candidate.rule_id === ruleId);
      if (existingIndex >= 0) rule.enabled = rules[existingIndex]!.enabled;
      const anchorId = before ?? after;
      if (anchorId !== undefined && (anchorId === ruleId || !rules.some((candidate) => candidate.rule_id === anchorId))) {
        throw new MatrixError(400, "M_UNKNOWN", `before/after rule not found: ${anchorId}`);
      }
      if (existingIndex >= 0 && anchorId === undefined) {
        rules[existingIndex] = rule;
        return;
      }
      if (existingIndex >= 0) rules.splice(existingIndex, 1);
      if (anchorId === undefined) {
        // A new rule without a position gets the highest priority of its kind.
        rules.unshift(rule);
      } else {
        const anchorIndex = rules.findIndex((candidate) => candidate.rule_id === anchorId);
        rules.splice(before !== undefined ? anchorIndex : anchorIndex + 1, 0, rule);
      }
    });
    return c.json({});
  });

  client.delete("/pushrules/global/:kind/:ruleId", requireAuth, async (c) => {
    const kind = kindParam(c);
    const ruleId = c.req.param("ruleId");
    await updatePushRules(c, c.get("requester").userId, (changes, effective) => {
      findRule(effective, kind, ruleId);
      if (ruleId.startsWith(".")) throw new MatrixError(400, "M_UNKNOWN", "Server-default rules cannot be deleted");
      changes.user[kind] = changes.user[kind].filter((rule) => rule.rule_id !== ruleId);
    });
    return c.json({});
  });

  for (const attribute of ["enabled", "actions"] as const) {
    client.get(`/pushrules/global/:kind/:ruleId/${attribute}`, requireAuth, async (c) => {
      const rule = findRule(await ruleset(c), kindParam(c), c.req.param("ruleId"));
      return c.json({ [attribute]: rule[attribute] });
    });
  }

  client.put("/pushrules/global/:kind/:ruleId/enabled", requireAuth, async (c) => {
    const kind = kindParam(c);
    const ruleId = c.req.param("ruleId");
    const { enabled } = await readJsonBody(c, z.object({ enabled: z.boolean() }));
    await updatePushRules(c, c.get("requester").userId, (changes, effective) => {
      findRule(effective, kind, ruleId);
      const own = userRule(changes, kind, ruleId);
      if (own) own.enabled = enabled;
      else changes.defaults[ruleId] = { ...changes.defaults[ruleId], enabled };
    });
    return c.json({});
  });

  client.put("/pushrules/global/:kind/:ruleId/actions", requireAuth, async (c) => {
    const kind = kindParam(c);
    const ruleId = c.req.param("ruleId");
    const { actions } = await readJsonBody(c, z.object({ actions: z.array(actionSchema) }));
    await updatePushRules(c, c.get("requester").userId, (changes, effective) => {
      findRule(effective, kind, ruleId);
      const own = userRule(changes, kind, ruleId);
      if (own) own.actions = actions as PushAction[];
      else changes.defaults[ruleId] = { ...changes.defaults[ruleId], actions: actions as PushAction[] };
    });
    return c.json({});
  });
}
