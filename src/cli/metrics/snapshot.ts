import type { RecordLabels, ServerStats, SinkStats, SourceStats } from "../../index.js";

/** Totals of the sources a reload replaced, so that the counters of the metrics never go back. */
export interface SourceTotals {
  readonly polls: number;
  readonly skippedTicks: number;
  readonly records: number;
}

/** What the sidecar is doing at one moment: what `/readyz` and `/metrics` are computed from. */
export interface SidecarSnapshot {
  /** `host` and the static `--field` labels. */
  readonly labels: RecordLabels;
  /** The current source. */
  readonly source: SourceStats;
  /** Sources a reload replaced. */
  readonly retiredSources: SourceTotals;
  /** Every sink the sidecar has had (the current one, those a reload replaced); empty with `--stdout`. */
  readonly sinks: readonly SinkStats[];
  /** The current sink's servers; undefined with `--stdout`. */
  readonly servers: readonly ServerStats[] | undefined;
  /** Records printed with `--stdout`; undefined otherwise. */
  readonly printed: number | undefined;
  /** `--buffer-limit`; undefined with `--stdout`. */
  readonly bufferLimitBytes: number | undefined;
  /** True from SIGTERM/SIGINT on: the sidecar is delivering what it holds and will exit. */
  readonly stopping: boolean;
}
