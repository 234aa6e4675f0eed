import type { EventRecord, TargetStats } from "../../index.js";
import type { Exposition, MetricLabels } from "./exposition.js";
import { SHAPE_METRICS, WORKER_STATUSES, type FieldMetric, type MetricShape } from "./uwsgi-metrics.js";

/** The records of one target's latest poll. */
interface TargetValues {
  time: number;
  summary: EventRecord | undefined;
  emperor: EventRecord | undefined;
  readonly workers: Map<string, EventRecord>;
}

/** Label names the uWSGI metrics set themselves: a static `--field` label of one of these names is left out. */
const OWN_LABELS = new Set(["target", "worker_id", "status", "socket", "version", "le", "quantile"]);

/**
 * The latest `summary`, `worker` and `emperor` records of every target, written as Prometheus metrics labelled by
 * `host`, the static `--field` labels, `target` and `worker_id`. A target's values are written only while its last
 * read succeeded (a failing target has `uwsgi_forward_target_up 0` and no stale values), a newer poll replaces
 * all of a target's records (workers that went away go with them), and targets the source forgot are forgotten.
 */
export class ShapeValues {
  readonly #targets = new Map<string, TargetValues>();

  /** Keeps one record of a poll; `time` is the item's time (every record of one read carries the same). */
  record(shape: MetricShape, time: number, record: EventRecord): void {
    const target = record.target;
    if (typeof target !== "string") return;
    let values = this.#targets.get(target);
    if (!values || time > values.time) {
      values = { time, summary: undefined, emperor: undefined, workers: new Map() };
      this.#targets.set(target, values);
    } else if (time < values.time) {
      return;
    }
    if (shape === "worker") values.workers.set(String(record.id), record);
    else values[shape] = record;
  }

  /**
   * Writes the values of the targets that are up in `targets` (the source's stats) and forgets the others the
   * source no longer knows. `labelKeys` are the record labels to copy (`host` and the static fields).
   */
  write(out: Exposition, targets: readonly TargetStats[], labelKeys: readonly string[]): void {
    const known = new Map(targets.map((t) => [t.target, t]));
    for (const target of this.#targets.keys()) if (!known.has(target)) this.#targets.delete(target);
    const keys = labelKeys.filter((key) => !OWN_LABELS.has(key) && !key.startsWith("__"));
    for (const [target, values] of this.#targets) {
      if (!known.get(target)?.up) continue;
      if (values.summary) {
        const labels = recordLabels(values.summary, keys, target);
        writeFields(out, "summary", values.summary, labels);
        if (typeof values.summary.version === "string") {
          out.gauge("uwsgi_info", "uWSGI's version, as a label (value 1).", 1, {
            ...labels,
            version: values.summary.version,
          });
        }
      }
      for (const [id, worker] of values.workers) {
        const labels = { ...recordLabels(worker, keys, target), worker_id: id };
        writeFields(out, "worker", worker, labels);
        if (typeof worker.status === "string") writeStatus(out, worker.status, labels);
      }
      if (values.emperor)
        writeFields(out, "emperor", values.emperor, recordLabels(values.emperor, keys, target));
    }
  }
}

function recordLabels(record: EventRecord, keys: readonly string[], target: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const key of keys) {
    const value = record[key];
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
      labels[key] = String(value);
    }
  }
  labels.target = target;
  return labels;
}

function writeFields(out: Exposition, shape: MetricShape, record: EventRecord, labels: MetricLabels): void {
  for (const metric of SHAPE_METRICS[shape]) {
    if (metric.indexLabel) {
      writeIndexed(out, metric, record, labels);
      continue;
    }
    const value = record[metric.field];
    if (typeof value !== "number") continue;
    const withLabel = metric.label ? { ...labels, [metric.label[0]]: metric.label[1] } : labels;
    write(out, metric, value, withLabel);
  }
}

/** A `<i>` family: `socket_0_queue`, `socket_1_queue`, … as one metric with the position as a label. */
function writeIndexed(out: Exposition, metric: FieldMetric, record: EventRecord, labels: MetricLabels): void {
  const [head, tail] = metric.field.split("<i>") as [string, string];
  for (const [field, value] of Object.entries(record)) {
    if (typeof value !== "number" || !field.startsWith(head) || !field.endsWith(tail)) continue;
    const index = field.slice(head.length, field.length - tail.length);
    if (/^\d+$/.test(index)) write(out, metric, value, { ...labels, [metric.indexLabel as string]: index });
  }
}

function write(out: Exposition, metric: FieldMetric, value: number, labels: MetricLabels): void {
  const scaled = metric.divisor === undefined ? value : value / metric.divisor;
  if (metric.type === "counter") out.counter(metric.name, metric.help, scaled, labels);
  else out.gauge(metric.name, metric.help, scaled, labels);
}

/** `uwsgi_worker_status{status=…}`: 1 for the worker's status, 0 for the others (a state set). */
function writeStatus(out: Exposition, status: string, labels: MetricLabels): void {
  const current = (WORKER_STATUSES as readonly string[]).includes(status)
    ? status
    : /^sig\d*$/.test(status)
      ? "signal"
      : "other";
  for (const name of WORKER_STATUSES) {
    out.gauge(
      "uwsgi_worker_status",
      "The worker's status: 1 for the current one.",
      name === current ? 1 : 0,
      {
        ...labels,
        status: name,
      },
    );
  }
}
