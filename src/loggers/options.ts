import { InvalidOptionError, type ForwardSinkOptions } from "../index.js";
import { resolveOptions } from "../forward/options.js";
import { enumOption, integerOption, stringOption } from "../options.js";

/** How the record's `level` field travels: as the logger's number or as its label (`"info"`). */
export type LevelAs = "number" | "label";

/** Options of both logger transports, besides every ForwardSink option (`host`, `servers`, `requireAck`, …). */
export interface LoggerTransportOptions extends ForwardSinkOptions {
  /** Tag of every event, or the fallback when `tagKey` is set and the record has no such field. Default: the logger's name (`"pino"`, `"winston"`). */
  tag?: string;
  /** A record field whose string value is the tag (the field stays in the record). Default: none (always `tag`). */
  tagKey?: string;
  /** Put before every tag, e.g. `"app."`. Default `""`. */
  tagPrefix?: string;
  /** The record's `level` as the logger's number or its label. Default: the logger's own (pino: `"number"`, winston: `"label"`). */
  levelAs?: LevelAs;
  /** Deadline of the final close (and of a flush): what is not delivered by then is dropped and reported on stderr. Default `5000` ms. */
  closeTimeoutMs?: number;
}

/** The logger-side options resolved, and the rest for ForwardSink; internal. */
export interface ResolvedLoggerOptions {
  tag: string;
  /** `tagPrefix` + `tag`, the tag of records without a `tagKey` field. */
  fullTag: string;
  tagKey: string | undefined;
  tagPrefix: string;
  levelAs: LevelAs;
  closeTimeoutMs: number;
  sink: ForwardSinkOptions;
}

/** What a logger's transport takes as its defaults. */
export interface LoggerDefaults {
  tag: string;
  levelAs: LevelAs;
  /** Longest `closeTimeoutMs` allowed (pino waits at most 10 s for its worker at exit). */
  maxCloseTimeoutMs: number;
}

const LOGGER_KEYS = ["tag", "tagKey", "tagPrefix", "levelAs", "closeTimeoutMs"] as const;

/**
 * Splits a transport's options into its own and ForwardSink's, and validates both at once: the logger's keys here,
 * the rest by ForwardSink's constructor, so a bad option throws the same `INVALID_OPTION` error naming it.
 */
export function resolveLoggerOptions(options: unknown, defaults: LoggerDefaults): ResolvedLoggerOptions {
  const raw: unknown = options ?? {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new InvalidOptionError("options", "expected an object of ForwardSink options and tag");
  }
  const sink: Record<string, unknown> = {};
  const own: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if ((LOGGER_KEYS as readonly string[]).includes(key)) own[key] = value;
    else sink[key] = value;
  }
  const resolved: ResolvedLoggerOptions = {
    tag: stringOption("tag", own.tag, defaults.tag),
    tagKey: stringOption("tagKey", own.tagKey, undefined),
    tagPrefix: own.tagPrefix === "" ? "" : stringOption("tagPrefix", own.tagPrefix, ""),
    levelAs: enumOption("levelAs", own.levelAs, defaults.levelAs, ["number", "label"]),
    closeTimeoutMs: integerOption("closeTimeoutMs", own.closeTimeoutMs, 5000, 0, defaults.maxCloseTimeoutMs),
    fullTag: "",
    sink: sink as ForwardSinkOptions,
  };
  resolved.fullTag = resolved.tagPrefix + resolved.tag;
  // Validation only (a sink with bufferPath would take the directory that the transport's own sink needs).
  resolveOptions(resolved.sink);
  return resolved;
}
