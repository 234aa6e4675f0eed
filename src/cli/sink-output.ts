import { once } from "node:events";
import {
  ForwardSink,
  type CloseReport,
  type EventRecord,
  type ForwardSinkOptions,
  type SinkStats,
  tlsFiles,
} from "../index.js";
import { errorCode, errorMessage, serverLabel } from "./labels.js";
import type { Logger, StateLog } from "./log.js";
import type { Output, OutputCloseReport } from "./output.js";
import type { SidecarSinkOptions } from "./config/load.js";

/**
 * The normal output: a ForwardSink whose connection changes are logged once per change of state
 * (connected, disconnected, failing with a code), never once per reconnect attempt.
 */
export function sinkOutput(
  options: SidecarSinkOptions,
  logger: Logger,
  states: StateLog,
  onFatal: (err: Error) => void,
): Output {
  const sink = new ForwardSink(forwardOptions(options, logger));
  const replayed = sink.stats().replayed;
  if (replayed > 0) {
    logger.info(
      `replaying ${replayed} records left undelivered in --buffer-path ${options.bufferPath ?? ""}`,
    );
  }
  let closing = false;
  const key = (server: unknown): string => `server ${serverLabel(server)}`;
  sink.on("connect", (server) => {
    // Reconnecting after an expected close (keepalive: false servers close after each frame) is routine.
    const level = states.get(key(server)) === "closed" ? "debug" : "info";
    states.change(key(server), "up", level, `connected to ${serverLabel(server)}`, {
      server: serverLabel(server),
    });
  });
  sink.on("disconnect", (server, reason) => {
    if (states.get(key(server)) !== "up") return;
    if (closing || reason === undefined) {
      states.change(key(server), "closed", "debug", `connection to ${serverLabel(server)} closed`, {
        server: serverLabel(server),
      });
      return;
    }
    const why = `${errorCode(reason)}: ${errorMessage(reason)}`;
    states.change(key(server), "down", "warn", `disconnected from ${serverLabel(server)}: ${why}`, {
      code: errorCode(reason),
      server: serverLabel(server),
    });
  });
  sink.on("serverError", (err, server) => {
    const code = errorCode(err);
    states.change(
      key(server),
      `error ${code}`,
      "warn",
      `server ${serverLabel(server)} failing: ${code}: ${errorMessage(err)}`,
      { code, server: serverLabel(server) },
    );
  });
  sink.on("drop", (info: { count: number; reason: string }) => {
    states.change(
      "drops",
      info.reason,
      "warn",
      `dropping events (${info.reason}); the health record counts them`,
    );
    logger.debug(`dropped ${info.count} events (${info.reason})`);
  });
  sink.on("bufferError", (err) => {
    states.change(
      "disk buffer",
      "failing",
      "warn",
      `disk buffer failing: ${errorCode(err)}: ${errorMessage(err)}; new records stay in memory`,
    );
  });
  sink.on("error", (err) => onFatal(err));
  return {
    writable: sink,
    sink,
    setServers(servers) {
      sink.setServers(forwardOptions({ ...options, servers }, logger).servers!);
    },
    health(): EventRecord {
      const stats = sink.stats();
      return {
        emitted: stats.accepted,
        sent: stats.sent,
        acked: stats.acked,
        retried: stats.retried,
        dropped: stats.dropped,
        buffered_bytes: stats.bufferedBytes,
        buffered_events: stats.bufferedEvents,
        servers_up: stats.servers.filter((s) => s.state === "up").length,
        servers: stats.servers.map((s) => ({
          server: s.id,
          state: s.state,
          standby: s.standby,
          connects: s.connects,
          failures: s.failures,
          last_error: s.lastError?.code ?? "",
          ...(s.ackLatencyMs ? { ack_p50_ms: s.ackLatencyMs.p50, ack_p99_ms: s.ackLatencyMs.p99 } : {}),
        })),
      };
    },
    async drained(): Promise<void> {
      if (sink.writableLength > 0 && !sink.destroyed) await once(sink, "drain").catch(() => undefined);
      await sink.flush();
    },
    async close(timeoutMs: number): Promise<OutputCloseReport> {
      const deadline = Date.now() + timeoutMs;
      closing = true;
      const hopeless = permanentFailure(sink);
      let timer: NodeJS.Timeout | undefined;
      try {
        if (sink.writableLength > 0 && !sink.destroyed) {
          await Promise.race([
            once(sink, "drain").catch(() => undefined),
            new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
            hopeless.found,
          ]);
        }
        const closed = sink.close({ timeoutMs: Math.max(0, deadline - Date.now()) });
        const gaveUp = await Promise.race([closed.then(() => false), hopeless.found]);
        // Waiting cannot mend a refused key or a server that never acks: stop now, the report counts the loss.
        if (gaveUp) sink.destroy();
        const report = await closed;
        return {
          undeliveredEvents: report.undeliveredEvents - report.keptEvents,
          text: closeText(report, sink.stats(), gaveUp),
        };
      } finally {
        clearTimeout(timer);
        hopeless.cancel();
      }
    },
  };
}

/**
 * Faults that waiting does not mend within a shutdown: the server refused our shared key or user
 * (`FORWARD_AUTH_FAILED`), or never sends the acks we require (`FORWARD_ACK_UNSUPPORTED`).
 */
const PERMANENT_FAULTS: ReadonlySet<string> = new Set(["FORWARD_AUTH_FAILED", "FORWARD_ACK_UNSUPPORTED"]);

/**
 * Watches the sink's servers (through `stats()` and `serverError`) until every one of them is out of rotation for
 * good or in a fault that waiting does not mend; `found` then resolves with true.
 */
function permanentFailure(sink: ForwardSink): { found: Promise<true>; cancel: () => void } {
  let check = (): void => {};
  const found = new Promise<true>((resolve) => {
    check = () => {
      const servers = sink.stats().servers;
      const permanent = servers.filter((s) => s.state === "failed" || PERMANENT_FAULTS.has(s.fault ?? ""));
      if (servers.length > 0 && permanent.length === servers.length) resolve(true);
    };
  });
  sink.on("serverError", check);
  check();
  return { found, cancel: () => sink.off("serverError", check) };
}

/**
 * What the close achieved, in words that claim no more than the sink knows: "delivered" only when acks confirmed
 * it; without acks, "written" (a port that is not a Forward input takes bytes too); what failed, per server.
 */
function closeText(report: CloseReport, stats: SinkStats, gaveUp: boolean): string {
  const lost = report.undeliveredEvents - report.keptEvents;
  const kept =
    report.keptEvents > 0 ? `${report.keptEvents} events kept in --buffer-path for the next start` : "";
  if (lost > 0) {
    const faults = stats.servers
      .filter((s) => s.lastError !== undefined)
      .map((s) => `${serverLabel(s)}: ${s.lastError!.code}: ${s.lastError!.message}`);
    const why = faults.length > 0 ? `; ${faults.join("; ")}` : "";
    const when = gaveUp ? ": every server failed for good, so the shutdown did not wait" : " in time";
    // The bytes are those of every undelivered event: given only when none was kept.
    const bytes = kept ? "" : ` (${report.undeliveredBytes} bytes)`;
    return `${lost} events${bytes} could not be delivered${when}${why}${kept ? `; ${kept}` : ""}`;
  }
  if (kept) return kept;
  if (report.acknowledged !== undefined) {
    return `delivered everything (${report.written} events sent, ${report.acknowledged} acknowledged)`;
  }
  return (
    `wrote everything (${report.written} events written to the servers; without --require-ack nothing confirms ` +
    "that a server kept them)"
  );
}

/**
 * The sink's options: the TLS files become `tlsFiles()` sources, read again for each new connection once renewed;
 * a renewal that cannot be used (a certificate without its new key yet) is a warning, and the files that worked
 * stay in use.
 */
export function forwardOptions(options: SidecarSinkOptions, logger: Logger): ForwardSinkOptions {
  const servers = options.servers.map(({ tls, ...server }) => {
    if (tls === undefined) return server;
    if (Object.keys(tls).length === 0) return { ...server, tls: true };
    const onError = (err: Error): void => logger.warn(`${errorCode(err)}: ${errorMessage(err)}`);
    return { ...server, tls: tlsFiles({ ...tls, onError }) };
  });
  return { ...options, servers };
}
