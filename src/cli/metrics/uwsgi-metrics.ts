import type { MetricType } from "./exposition.js";

/** The record kinds whose values become metrics. */
export type MetricShape = "summary" | "worker" | "emperor";

/**
 * One record field as one metric: its Prometheus name and type, and the divisor to base units (µs → seconds).
 * A `field` with `<i>` is a family by position (`socket_<i>_queue`): the position becomes the label `indexLabel`.
 * A `label` puts several fields into one family, told apart by that label's value (`workers_busy` →
 * `uwsgi_workers_by_status{status="busy"}`).
 */
export interface FieldMetric {
  readonly field: string;
  readonly name: string;
  readonly type: Exclude<MetricType, "histogram">;
  readonly help: string;
  readonly divisor?: number;
  readonly label?: readonly [name: string, value: string];
  readonly indexLabel?: string;
}

/** µs per second: uWSGI's times are in µs, Prometheus wants seconds. */
const MICROS = 1e6;
const gauge = (field: string, name: string, help: string, extra: Partial<FieldMetric> = {}): FieldMetric => ({
  field,
  name,
  type: "gauge",
  help,
  ...extra,
});
const counter = (
  field: string,
  name: string,
  help: string,
  extra: Partial<FieldMetric> = {},
): FieldMetric => ({
  field,
  name,
  type: "counter",
  help,
  ...extra,
});
const byStatus = (status: string): FieldMetric =>
  gauge(`workers_${status}`, "uwsgi_workers_by_status", "Workers by status (signal: handling a signal).", {
    label: ["status", status],
  });

/** `summary` records (one per target): names follow uwsgi_exporter's where it has the value. */
export const SUMMARY_METRICS: readonly FieldMetric[] = [
  gauge(
    "listen_queue",
    "uwsgi_listen_queue_length",
    "Connections waiting in the master's listen queue (Linux).",
  ),
  counter("listen_queue_errors", "uwsgi_listen_queue_errors_total", "Listen queue overflows (Linux)."),
  gauge("signal_queue", "uwsgi_signal_queue_length", "Signals waiting in the master's queue."),
  gauge("load", "uwsgi_load", "uWSGI's load: requests waiting."),
  gauge("workers", "uwsgi_workers", "Number of workers."),
  ...["busy", "idle", "cheap", "pause", "signal", "other"].map(byStatus),
  gauge("workers_accepting", "uwsgi_workers_accepting", "Workers accepting requests."),
  gauge("cores", "uwsgi_cores", "Cores (threads or async slots) of every worker."),
  gauge("cores_in_request", "uwsgi_cores_in_request", "Cores serving a request."),
  counter("requests", "uwsgi_requests_total", "Requests served by every worker (zeroed by a reload)."),
  counter("exceptions", "uwsgi_exceptions_total", "Exceptions raised by the application."),
  counter("harakiri", "uwsgi_harakiri_total", "Harakiri of every worker."),
  counter("respawns", "uwsgi_respawns_total", "Worker starts (uWSGI counts the first one)."),
  counter("tx", "uwsgi_transmitted_bytes_total", "Bytes sent to clients."),
  gauge("rss", "uwsgi_rss_bytes", "Resident memory of every worker (0 without memory-report)."),
  gauge("vsz", "uwsgi_vsz_bytes", "Virtual memory of every worker (0 without memory-report)."),
  counter("running_time", "uwsgi_running_time_seconds_total", "Time spent serving requests.", {
    divisor: MICROS,
  }),
  counter("signals", "uwsgi_signals_total", "Signals handled by the workers."),
  gauge(
    "avg_rt_max",
    "uwsgi_average_response_time_max_seconds",
    "Largest worker avg_rt ((previous + last) / 2).",
    {
      divisor: MICROS,
    },
  ),
  gauge(
    "avg_rt_weighted",
    "uwsgi_average_response_time_weighted_seconds",
    "Workers' avg_rt weighted by their requests.",
    { divisor: MICROS },
  ),
  gauge(
    "response_time_us",
    "uwsgi_response_time_seconds",
    "Mean response time of the requests that finished since the previous poll.",
    { divisor: MICROS },
  ),
  gauge("sockets", "uwsgi_sockets", "Number of uWSGI sockets."),
  gauge("socket_<i>_queue", "uwsgi_socket_queue_length", "Connections waiting on a socket.", {
    indexLabel: "socket",
  }),
  gauge("socket_<i>_max_queue", "uwsgi_socket_max_queue_length", "Listen queue size of a socket.", {
    indexLabel: "socket",
  }),
  gauge("spoolers", "uwsgi_spoolers", "Number of spoolers."),
  gauge("spooler_tasks", "uwsgi_spooler_tasks", "Tasks waiting in the spoolers."),
];

/** `worker` records (one per worker), labelled `worker_id`: uwsgi_exporter's `uwsgi_worker_*` names. */
export const WORKER_METRICS: readonly FieldMetric[] = [
  gauge("accepting", "uwsgi_worker_accepting", "1 when the worker accepts requests."),
  counter("requests", "uwsgi_worker_requests_total", "Requests served by this worker slot."),
  gauge(
    "delta_requests",
    "uwsgi_worker_delta_requests",
    "Requests served since this worker process started.",
  ),
  counter("exceptions", "uwsgi_worker_exceptions_total", "Exceptions raised in this worker."),
  counter("harakiri_count", "uwsgi_worker_harakiri_count_total", "Harakiri of this worker slot."),
  counter("signals", "uwsgi_worker_signals_total", "Signals handled by this worker."),
  gauge("signal_queue", "uwsgi_worker_signal_queue_length", "Signals waiting for this worker."),
  gauge("rss", "uwsgi_worker_rss_bytes", "Resident memory (0 without memory-report)."),
  gauge("vsz", "uwsgi_worker_vsz_bytes", "Virtual memory (0 without memory-report)."),
  counter("running_time", "uwsgi_worker_running_time_seconds_total", "Time spent serving requests.", {
    divisor: MICROS,
  }),
  gauge(
    "last_spawn",
    "uwsgi_worker_last_spawn_time_seconds",
    "When this worker process started (Unix time).",
  ),
  counter("respawn_count", "uwsgi_worker_respawn_count_total", "Starts of this worker slot."),
  counter("tx", "uwsgi_worker_transmitted_bytes_total", "Bytes sent to clients."),
  gauge("avg_rt", "uwsgi_worker_average_response_time_seconds", "uWSGI's avg_rt: (previous + last) / 2.", {
    divisor: MICROS,
  }),
  gauge(
    "response_time_us",
    "uwsgi_worker_response_time_seconds",
    "Mean response time of this worker's requests that finished since the previous poll.",
    { divisor: MICROS },
  ),
  gauge("apps", "uwsgi_worker_apps", "Applications loaded in this worker."),
  gauge("cores", "uwsgi_worker_cores", "Cores of this worker."),
  gauge("cores_in_request", "uwsgi_worker_cores_in_request", "Cores of this worker serving a request."),
];

/** Worker statuses of `uwsgi_worker_status` (uWSGI's `sig<N>` is `signal`; anything else is `other`). */
export const WORKER_STATUSES = ["idle", "busy", "cheap", "pause", "signal", "other"] as const;

/** `emperor` records (an Emperor's own stats). */
export const EMPEROR_METRICS: readonly FieldMetric[] = [
  gauge("vassals", "uwsgi_emperor_vassals", "Vassals known to the Emperor."),
  gauge("vassals_loyal", "uwsgi_emperor_vassals_loyal", "Vassals that are loyal."),
  gauge("vassals_ready", "uwsgi_emperor_vassals_ready", "Vassals that are ready."),
  gauge("vassals_accepting", "uwsgi_emperor_vassals_accepting", "Vassals that accept requests."),
  gauge("vassals_cursed", "uwsgi_emperor_vassals_cursed", "Vassals that are cursed."),
  counter("vassals_respawns", "uwsgi_emperor_vassal_respawns_total", "Respawns of every vassal."),
  gauge("blacklisted", "uwsgi_emperor_blacklisted", "Vassals on the blacklist."),
  gauge("throttle_level", "uwsgi_emperor_throttle_level", "The Emperor's throttle level."),
];

/** The metrics of each shape. */
export const SHAPE_METRICS: Readonly<Record<MetricShape, readonly FieldMetric[]>> = {
  summary: SUMMARY_METRICS,
  worker: WORKER_METRICS,
  emperor: EMPEROR_METRICS,
};
