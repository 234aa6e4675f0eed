import { once } from "node:events";
import {
  ForwardSink,
  type CloseReport,
  type EventRecord,
  type ForwardSinkOptions,
  type SinkStats,
} from "../index.js";
import { errorCode, errorMessage, serverLabel } from "./labels.js";
import type { Logger, StateLog } from "./log.js";
import type { Output, OutputCloseReport } from "./output.js";

/**
 * The normal output: a ForwardSink whose connection changes are logged once per change of state
 * (connected, disconnected, failing with a code), never once per reconnect attempt.
 */
export function sinkOutput(
  options: ForwardSinkOptions,
  logger: Logger,
  states: StateLog,
  onFatal: (err: Error) => void,
): Output {
  const sink = new ForwardSink(options);
  let closing = false;
  const key = (server: unknown): string => `server ${serverLabel(server)}`;
  sink.on("connect", (server) => {
    // Reconnecting after an expected close (keepalive: false servers close after each frame) is routine.
    const level = states.get(key(server)) === "closed" ? "debug" : "info";
    states.change(key(server), "up", level, `connected to ${serverLabel(server)}`);
  });
  sink.on("disconnect", (server, reason) => {
    if (states.get(key(server)) !== "up") return;
    if (closing || reason === undefined) {
      states.change(key(server), "closed", "debug", `connection to ${serverLabel(server)} closed`);
      return;
    }
    const why = `${errorCode(reason)}: ${errorMessage(reason)}`;
    states.change(key(server), "down", "warn", `disconnected from ${serverLabel(server)}: ${why}`);
  });
  sink.on("serverError", (err, server) => {
    const code = errorCode(err);
    states.change(
      key(server),
      `error ${code}`,
      "warn",
      `server ${serverLabel(server)} failing: ${code}: ${errorMessage(err)}`,
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
  sink.on("error", (err) => onFatal(err));
  return {
    writable: sink,
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
        const fault = await Promise.race([closed.then(() => undefined), hopeless.found]);
        // Waiting cannot mend a refused key or a server that never acks: stop now, the report counts the loss.
        if (fault !== undefined) sink.destroy();
        const report = await closed;
        return closeReport(report, sink.stats(), options.requireAck === true, fault);
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
 * good or in a fault that waiting does not mend; `found` then resolves with a description of those faults.
 */
function permanentFailure(sink: ForwardSink): { found: Promise<string>; cancel: () => void } {
  let check = (): void => {};
  const found = new Promise<string>((resolve) => {
    check = () => {
      const servers = sink.stats().servers;
      const permanent = servers.filter((s) => s.state === "failed" || PERMANENT_FAULTS.has(s.fault ?? ""));
      if (servers.length === 0 || permanent.length < servers.length) return;
      resolve(permanent.map((s) => `${s.id}: ${s.fault ?? s.lastError?.code ?? "failed"}`).join(", "));
    };
  });
  sink.on("serverError", check);
  check();
  return { found, cancel: () => sink.off("serverError", check) };
}

/** The exit line's words: what was written and acknowledged (acks only), or what was lost and why. */
function closeReport(
  report: CloseReport,
  stats: SinkStats,
  requireAck: boolean,
  fault: string | undefined,
): OutputCloseReport {
  const counts = requireAck
    ? `${stats.sent} events sent, ${stats.acked} acknowledged`
    : `${stats.sent} events sent`;
  if (report.undeliveredEvents === 0) {
    return { undeliveredEvents: 0, text: `delivered everything (${counts})` };
  }
  const lost = `${report.undeliveredEvents} events (${report.undeliveredBytes} bytes)`;
  return {
    undeliveredEvents: report.undeliveredEvents,
    text:
      fault === undefined
        ? `${lost} could not be delivered in time (${counts})`
        : `${lost} could not be delivered: every server failed for good (${fault}), so the shutdown did not wait (${counts})`,
  };
}
