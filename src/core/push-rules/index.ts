export type {
  ContainsDisplayNameCondition,
  EventMatchCondition,
  EventPropertyContainsCondition,
  EventPropertyIsCondition,
  KnownPushCondition,
  PushAction,
  PushCondition,
  PushConditionValue,
  PushEvaluableEvent,
  PushEvaluationContext,
  PushEvaluationResult,
  PushRule,
  PushRuleKind,
  RoomMemberCountCondition,
  Ruleset,
  SenderNotificationPermissionCondition,
  SetTweakAction,
  UnrecognisedPushCondition,
} from "./types";
export { PUSH_RULE_KINDS } from "./types";
export { combineRulesets, defaultPushRules, type DefaultPushRuleOptions } from "./default-rules";
export { evaluatePushRules, lookupEventProperty, matchesGlob, parsePropertyPath } from "./evaluate";
