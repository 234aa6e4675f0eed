import { parseArgs } from "node:util";
import { UwsgiForwardError } from "../../index.js";
import { parseDuration, DURATION_SYNTAX, formatDuration } from "../config/durations.js";
import { cut, quote } from "../config/quote.js";
import { readSettingFile } from "../config/setting-file.js";
import { USAGE_EXIT_CODE } from "../errors.js";
import { Logger } from "../log.js";
import { NorikraQueriesFileError, NorikraUnreachableError } from "./errors.js";
import { QueriesSyntaxError, splitQueries, type NamedQuery } from "./queries-file.js";
import { NorikraRpc } from "./rpc.js";
import { applySetup, changedAnything, type SetupReport } from "./setup.js";
import { SHIPPED_QUERIES } from "./shipped-queries.js";
import { targetPlans } from "./targets.js";

/** What `uwsgi-forward norikra` needs from its process: output streams and a way to wait for a stop signal. */
export interface NorikraCommandIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  /** Resolves when the process is asked to stop (SIGTERM/SIGINT); only awaited with --watch. */
  readonly stopped: Promise<void>;
}

const DEFAULT_WATCH_INTERVAL_MS = 5000;
const DEFAULT_TIMEOUT_MS = 10_000;

/** The --help text of `uwsgi-forward norikra`. */
export const NORIKRA_HELP = `Usage: uwsgi-forward norikra --norikra HOST:PORT [--queries FILE] [--watch]

Sets Norikra up for uwsgi-forward's records, whatever it holds already: opens the targets stats, summary,
worker, flat and emperor with every field's type, then registers the queries of FILE (each after a
"-- name: NAME" line; default: the shipped examples/norikra/queries.sql), replacing a query of the same name
whose statement differs. Run it before td-agent sends, or at any time: it changes only what is missing.

  --norikra HOST:PORT     Norikra's RPC port (norikra-client's; default port 26571). Required.
  --queries FILE          the queries to register; default: the shipped queries
  --target-prefix PREFIX  prefix of the target names (uwsgi_ when td-agent has no remove_tag_prefix); default none
  --watch                 keep running and set Norikra up again whenever it lost targets or queries (a restart)
  --watch-interval D      how often --watch checks; default ${formatDuration(DEFAULT_WATCH_INTERVAL_MS)}
  --timeout D             deadline of one RPC call, connect to last byte; default ${formatDuration(DEFAULT_TIMEOUT_MS)}
  -h, --help              this text

Exit codes: 0 set up (or --watch stopped by SIGTERM/SIGINT), 1 Norikra unreachable, a query rejected or a
target open with other types, 2 wrong flag. Docs: docs/cli.md, docs/operations.md ("Norikra").
`;

interface NorikraFlags {
  readonly host: string;
  readonly port: number;
  readonly queries: NamedQuery[];
  readonly queriesSource: string;
  readonly prefix: string;
  readonly watch: boolean;
  readonly watchIntervalMs: number;
  readonly timeoutMs: number;
}

class UsageError extends Error {}

function parseAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) {
    throw new UsageError(`--norikra: ${quote(text)} is not HOST:PORT (e.g. 127.0.0.1:26571)`);
  }
  return { host: (m[1] ?? m[2]) as string, port };
}

function parseDurationFlag(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0)
    throw new UsageError(`${flag}: ${quote(text)} is not ${DURATION_SYNTAX} (above 0)`);
  return ms;
}

function loadQueries(file: string | undefined): { queries: NamedQuery[]; source: string } {
  const source = file ?? "shipped queries.sql";
  const read = file === undefined ? { text: SHIPPED_QUERIES } : readSettingFile(file);
  if ("refused" in read) throw new NorikraQueriesFileError(cut(source), `cannot read it (${read.refused})`);
  const { text } = read;
  try {
    return { queries: splitQueries(text), source };
  } catch (err) {
    if (err instanceof QueriesSyntaxError) throw new NorikraQueriesFileError(source, err.message, err);
    throw err;
  }
}

function parseNorikraFlags(argv: readonly string[]): NorikraFlags | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        norikra: { type: "string" },
        queries: { type: "string" },
        "target-prefix": { type: "string" },
        watch: { type: "boolean" },
        "watch-interval": { type: "string" },
        timeout: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    throw new UsageError(`${cut((err as Error).message)} (see uwsgi-forward norikra --help)`);
  }
  if (values.help) return "help";
  if (values.norikra === undefined)
    throw new UsageError("--norikra HOST:PORT is required (e.g. 127.0.0.1:26571)");
  const prefix = values["target-prefix"] ?? "";
  if (prefix !== "" && !/^[A-Za-z][A-Za-z0-9_]*$/.test(prefix)) {
    throw new UsageError(
      `--target-prefix: ${quote(prefix)} must match [A-Za-z][A-Za-z0-9_]* (a Norikra target name start)`,
    );
  }
  if (values["watch-interval"] !== undefined && !values.watch) {
    throw new UsageError("--watch-interval needs --watch");
  }
  const { queries, source } = loadQueries(values.queries);
  return {
    ...parseAddress(values.norikra),
    queries,
    queriesSource: source,
    prefix,
    watch: values.watch ?? false,
    watchIntervalMs: parseDurationFlag(
      "--watch-interval",
      values["watch-interval"],
      DEFAULT_WATCH_INTERVAL_MS,
    ),
    timeoutMs: parseDurationFlag("--timeout", values.timeout, DEFAULT_TIMEOUT_MS),
  };
}

function describe(report: SetupReport): string {
  const parts: string[] = [];
  if (report.opened.length) parts.push(`opened ${report.opened.join(", ")}`);
  if (report.reopened.length) parts.push(`re-opened with types ${report.reopened.join(", ")}`);
  if (report.reserved.length) parts.push(`declared ${report.reserved.length} fields`);
  if (report.registered.length) parts.push(`registered ${report.registered.join(", ")}`);
  if (report.replaced.length) parts.push(`replaced ${report.replaced.join(", ")}`);
  if (report.unchanged.length) parts.push(`${report.unchanged.length} queries already there`);
  return parts.join("; ") || "nothing to do";
}

/**
 * Runs `uwsgi-forward norikra ARGS…`; resolves to the exit code (0 set up, 1 a failure talking to Norikra or
 * a rejected query, 2 a wrong flag or an unreadable queries file).
 */
export async function runNorikra(argv: readonly string[], io: NorikraCommandIo): Promise<number> {
  let flags: NorikraFlags;
  try {
    const parsed = parseNorikraFlags(argv);
    if (parsed === "help") {
      io.stdout.write(NORIKRA_HELP);
      return 0;
    }
    flags = parsed;
  } catch (err) {
    if (!(err instanceof UsageError) && !(err instanceof NorikraQueriesFileError)) throw err;
    io.stderr.write(`uwsgi-forward norikra: ${err.message}\n`);
    return USAGE_EXIT_CODE;
  }
  const logger = new Logger("info", io.stderr);
  // With --watch, a stop signal also aborts the call in flight (an answer that drips, a repeat's wait).
  const stopping = new AbortController();
  void io.stopped.then(() => stopping.abort());
  const rpc = new NorikraRpc(flags.host, flags.port, { timeoutMs: flags.timeoutMs, signal: stopping.signal });
  const plans = targetPlans(flags.prefix);

  const logged = new Set<string>();
  const once = async (): Promise<SetupReport> => {
    const report = await applySetup(rpc, plans, flags.queries, flags.queriesSource);
    for (const { message } of report.rejected) {
      if (!logged.has(message)) logger.error(message);
      logged.add(message);
    }
    if (report.rejected.length === 0) logged.clear();
    return report;
  };

  if (!flags.watch) {
    try {
      const report = await once();
      logger.info(`norikra ${rpc.address}: ${describe(report)}`);
      return report.rejected.length > 0 ? 1 : 0;
    } catch (err) {
      if (!(err instanceof UwsgiForwardError)) throw err;
      logger.error(err.message);
      return 1;
    }
  }

  let stop = false;
  void io.stopped.then(() => (stop = true));
  let lastProblem: string | undefined;
  let rounds = 0;
  logger.info(`watching Norikra at ${rpc.address} every ${formatDuration(flags.watchIntervalMs)}`);
  while (!stop) {
    try {
      const report = await once();
      if (rounds === 0 || changedAnything(report) || lastProblem !== undefined) {
        const why = rounds > 0 && report.opened.length > 0 ? " (Norikra lost its targets: restarted?)" : "";
        logger.info(`norikra ${rpc.address}: ${describe(report)}${why}`);
      }
      lastProblem = undefined;
      rounds++;
    } catch (err) {
      if (stopping.signal.aborted) break;
      if (!(err instanceof UwsgiForwardError)) throw err;
      if (err.message !== lastProblem) {
        const retry =
          err instanceof NorikraUnreachableError
            ? `; retrying every ${formatDuration(flags.watchIntervalMs)}`
            : "";
        logger.error(`${err.message}${retry}`);
      }
      lastProblem = err.message;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, flags.watchIntervalMs);
      void io.stopped.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  logger.info("stopped watching Norikra");
  return 0;
}
