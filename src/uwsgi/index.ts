export { UwsgiStatsSource } from "./source.js";
export type { PollSummary, ResetInfo, RecoverInfo } from "./source.js";
export type { UwsgiStatsSourceOptions, StatsShape, StatsTags } from "./options.js";
export { DEFAULT_TAGS } from "./options.js";
export { UwsgiStatsError, UwsgiStatsErrorCode } from "./errors.js";
export type { VarsMode } from "./redact.js";
export { REDACTED } from "./redact.js";
export { parseDocument } from "./parse.js";
export type { ParsedDocument } from "./parse.js";
