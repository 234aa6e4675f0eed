import type { AckInfo, DropReason, ForwardItem, ServerHealth } from "../../index.js";
import { VERSION } from "../version.js";
import { Exposition } from "./exposition.js";
import { Histogram } from "./histogram.js";
import { readiness } from "./readiness.js";
import { ShapeValues } from "./shape-values.js";
import type { SidecarSnapshot } from "./snapshot.js";
import type { MetricShape } from "./uwsgi-metrics.js";

const DROP_REASONS: readonly DropReason[] = ["overflow", "closed", "evicted", "undelivered"];
const SERVER_STATES: readonly ServerHealth[] = ["idle", "connecting", "up", "down", "failed"];
/** Milliseconds as seconds, to the microsecond (no float noise such as 0.009012000000000001). */
const seconds = (ms: number): number => Math.round(ms * 1000) / 1e6;

/**
 * The sidecar's `/metrics`: its own figures as `uwsgi_forward_*` (the sink's counters, buffer and servers, the
 * source's polls and targets, ack latency), the values of the polled shapes as `uwsgi_*`, and the process's.
 * It keeps what a snapshot cannot give: the latest records of every target and a latency histogram per server.
 */
export class SidecarMetrics {
  readonly #shapes = new ShapeValues();
  readonly #ackLatency = new Map<string, Histogram>();

  /** Keeps an item of the source whose shape has metrics (`shape` undefined for the others). */
  item(shape: MetricShape | undefined, item: ForwardItem): void {
    if (shape !== undefined)
      this.#shapes.record(shape, typeof item.time === "number" ? item.time : 0, item.record);
  }

  /** Counts one acknowledged frame's round trip. */
  ack(info: AckInfo): void {
    let histogram = this.#ackLatency.get(info.server.id);
    if (!histogram) {
      histogram = new Histogram();
      this.#ackLatency.set(info.server.id, histogram);
    }
    histogram.observe(seconds(info.latencyMs));
  }

  /** The scrape's text (Prometheus text format 0.0.4). */
  render(snapshot: SidecarSnapshot): string {
    const out = new Exposition();
    writeProcess(out, snapshot);
    writeSource(out, snapshot);
    writeSink(out, snapshot);
    for (const [server, histogram] of this.#ackLatency) {
      out.histogram(
        "uwsgi_forward_ack_latency_seconds",
        "Time from writing a frame to its ack (--require-ack).",
        histogram.figures(),
        { server },
      );
    }
    this.#shapes.write(out, snapshot.source.targets, Object.keys(snapshot.labels));
    return out.text();
  }
}

function writeProcess(out: Exposition, snapshot: SidecarSnapshot): void {
  out.gauge("uwsgi_forward_build_info", "The sidecar's version, as a label (value 1).", 1, {
    version: VERSION,
  });
  out.gauge("uwsgi_forward_ready", "1 while /readyz answers 200.", readiness(snapshot).ready ? 1 : 0);
  const cpu = process.cpuUsage();
  out.counter("process_cpu_seconds_total", "User and system CPU time spent.", (cpu.user + cpu.system) / 1e6);
  out.gauge("process_resident_memory_bytes", "Resident memory size.", process.memoryUsage.rss());
  out.gauge(
    "process_start_time_seconds",
    "Start time of the process since the Unix epoch.",
    Math.round(performance.timeOrigin) / 1000,
  );
}

function writeSource(out: Exposition, snapshot: SidecarSnapshot): void {
  const { source, retiredSources: retired, labels } = snapshot;
  out.counter("uwsgi_forward_polls_total", "Polls of every target finished.", source.polls + retired.polls);
  out.counter(
    "uwsgi_forward_poll_skipped_ticks_total",
    "Scheduled polls skipped (a long poll, or a sink that was not taking records).",
    source.skippedTicks + retired.skippedTicks,
  );
  out.counter(
    "uwsgi_forward_records_total",
    "Records the source produced (error records included).",
    source.records + retired.records,
  );
  const last = source.lastPoll;
  if (last) {
    out.gauge(
      "uwsgi_forward_last_poll_duration_seconds",
      "Wall time of the last poll.",
      seconds(last.durationMs),
    );
    out.gauge("uwsgi_forward_last_poll_timestamp_seconds", "When the last poll started.", seconds(last.time));
    out.gauge("uwsgi_forward_targets", "Targets the last poll read (globs expanded).", last.targets);
    out.gauge("uwsgi_forward_targets_failed", "Targets that failed in the last poll.", last.failed);
  }
  const base: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels)) if (!key.startsWith("__")) base[key] = String(value);
  for (const t of source.targets) {
    const l = { ...base, target: t.target };
    out.gauge(
      "uwsgi_forward_target_up",
      "1 when the target's last read gave a usable document.",
      t.up ? 1 : 0,
      l,
    );
    out.gauge(
      "uwsgi_forward_target_stale",
      "1 while a glob target refuses connections (polled quietly).",
      t.stale ? 1 : 0,
      l,
    );
    out.counter("uwsgi_forward_target_reads_total", "Reads of the target.", t.reads, l);
    out.counter("uwsgi_forward_target_failures_total", "Reads of the target that failed.", t.failures, l);
    if (t.lastDurationMs !== undefined) {
      out.gauge(
        "uwsgi_forward_target_last_read_duration_seconds",
        "Wall time of the target's last read (connect, read, parse, shape).",
        seconds(t.lastDurationMs),
        l,
      );
    }
    if (t.lastSuccessAt !== undefined) {
      out.gauge(
        "uwsgi_forward_target_last_success_timestamp_seconds",
        "When the target last answered with a usable document.",
        seconds(t.lastSuccessAt),
        l,
      );
    }
  }
}

function writeSink(out: Exposition, snapshot: SidecarSnapshot): void {
  const { sinks, printed } = snapshot;
  const sum = (pick: (s: SidecarSnapshot["sinks"][number]) => number): number =>
    sinks.reduce((n, s) => n + pick(s), 0);
  const accepted = printed ?? sum((s) => s.accepted);
  out.counter("uwsgi_forward_events_accepted_total", "Events the sink took into its buffer.", accepted);
  out.counter(
    "uwsgi_forward_events_sent_total",
    "Events written to a server in full (with --stdout: printed).",
    printed ?? sum((s) => s.sent),
  );
  out.counter(
    "uwsgi_forward_events_acked_total",
    "Events a server acknowledged (--require-ack).",
    sum((s) => s.acked),
  );
  out.counter(
    "uwsgi_forward_events_retried_total",
    "Events written again after an ack timeout, a disconnect or a failover.",
    sum((s) => s.retried),
  );
  for (const reason of DROP_REASONS) {
    out.counter(
      "uwsgi_forward_events_dropped_total",
      "Events dropped, by reason.",
      sum((s) => s.droppedBy[reason]),
      {
        reason,
      },
    );
  }
  out.gauge(
    "uwsgi_forward_buffered_bytes",
    "Bytes held for the servers.",
    sum((s) => s.bufferedBytes),
  );
  out.gauge(
    "uwsgi_forward_buffered_events",
    "Events held for the servers.",
    sum((s) => s.bufferedEvents),
  );
  out.gauge(
    "uwsgi_forward_buffered_frames",
    "Frames held for the servers.",
    sum((s) => s.bufferedFrames),
  );
  if (snapshot.bufferLimitBytes !== undefined) {
    out.gauge("uwsgi_forward_buffer_limit_bytes", "--buffer-limit.", snapshot.bufferLimitBytes);
  }
  for (const s of snapshot.servers ?? []) {
    const l = { server: s.id };
    out.gauge("uwsgi_forward_server_info", "A Forward server's settings (value 1).", 1, {
      ...l,
      standby: String(s.standby),
      tls: String(s.tls),
      weight: String(s.weight),
    });
    out.gauge("uwsgi_forward_server_up", "1 while connected (handshake done).", s.state === "up" ? 1 : 0, l);
    for (const state of SERVER_STATES) {
      out.gauge(
        "uwsgi_forward_server_state",
        "The server's state: 1 for the current one.",
        s.state === state ? 1 : 0,
        {
          ...l,
          state,
        },
      );
    }
    if (s.fault !== undefined) {
      out.gauge("uwsgi_forward_server_fault", "1 while a fault with this code goes on.", 1, {
        ...l,
        code: s.fault,
      });
    }
    out.counter(
      "uwsgi_forward_server_connects_total",
      "Successful connections (handshake included).",
      s.connects,
      l,
    );
    out.gauge(
      "uwsgi_forward_server_failures",
      "Consecutive failures (drive the reconnect backoff).",
      s.failures,
      l,
    );
    out.counter("uwsgi_forward_server_failed_probes_total", "Return probes that failed.", s.failedProbes, l);
    out.counter(
      "uwsgi_forward_server_repeated_errors_total",
      "Errors not reported again because they repeated the ongoing fault.",
      s.repeatedErrors,
      l,
    );
    out.counter(
      "uwsgi_forward_server_sent_frames_total",
      "Frames written (re-sends included).",
      s.sentFrames,
      l,
    );
    out.counter(
      "uwsgi_forward_server_settled_frames_total",
      "Frames acknowledged (or written, without acks).",
      s.settledFrames,
      l,
    );
    out.gauge(
      "uwsgi_forward_server_in_flight_frames",
      "Frames on the wire waiting for their ack.",
      s.inFlightFrames,
      l,
    );
  }
}
