import { finished } from "node:stream/promises";
import { setTimeout as delay } from "node:timers/promises";
import {
  ForwardSink,
  InvalidOptionError,
  UwsgiStatsErrorCode,
  UwsgiStatsSource,
  type ForwardItem,
  type PollSummary,
} from "../index.js";
import type { SidecarConfig } from "./config/load.js";

/** The sink's refusals of its bufferPath at construction, reported as a wrong --buffer-path. */
const BUFFER_PATH_CODES: ReadonlySet<string> = new Set([
  "FORWARD_BUFFER_PATH",
  "FORWARD_BUFFER_LOCKED",
  "FORWARD_BUFFER_FORMAT",
]);
import { formatDuration } from "./config/durations.js";
import { Health } from "./health.js";
import { MemoryReportCheck } from "./memory-report.js";
import { formatSize } from "./config/sizes.js";
import { errorCode, errorMessage, serverLabel } from "./labels.js";
import { StateLog, type Logger } from "./log.js";
import { readiness, type Readiness } from "./metrics/readiness.js";
import { SidecarMetrics } from "./metrics/sidecar-metrics.js";
import type { SidecarSnapshot, SourceTotals } from "./metrics/snapshot.js";
import type { MetricShape } from "./metrics/uwsgi-metrics.js";
import { mergeOutputHealth, type Output, type OutputCloseReport } from "./output.js";
import { forwardOptions, sinkOutput } from "./sink-output.js";
import { stdoutOutput, type LineOutput } from "./stdout-output.js";

/** What the sidecar needs from its process: a logger (stderr) and stdout (for --stdout). */
export interface SidecarIo {
  readonly logger: Logger;
  readonly stdout: LineOutput;
  /** Called on a fatal stream error (a bug): the process should exit 1. */
  readonly fatal: (err: Error) => void;
}

/** Shapes whose records carry rates, which need two polls. */
const RATE_SHAPES = new Set(["summary", "worker", "app", "core", "cache", "spooler", "metric"]);

/**
 * The long-running sidecar: a UwsgiStatsSource piped into a ForwardSink (or stdout), a health record
 * every --health-interval, state changes logged once, graceful stop and config reload.
 */
export class Sidecar {
  #config: SidecarConfig;
  #source: UwsgiStatsSource;
  #output: Output;
  /** Outputs a reload replaced that still hold events: kept until their servers take everything. */
  readonly #retiring = new Set<Output>();
  /** Outputs a reload replaced that have delivered everything and closed (their counters stay in the health record). */
  readonly #retired: Output[] = [];
  #healthTimer: NodeJS.Timeout | undefined;
  readonly #health = new Health();
  readonly #states: StateLog;
  #failedTargets = 0;
  readonly #metrics = new SidecarMetrics();
  /** Totals of the sources a reload replaced, so that the metrics' counters never go back. */
  #retiredSources: SourceTotals = { polls: 0, skippedTicks: 0, records: 0 };
  #stopping = false;

  constructor(
    config: SidecarConfig,
    private readonly io: SidecarIo,
  ) {
    this.#config = config;
    this.#states = new StateLog(io.logger);
    this.#output = this.#makeOutput(config);
    this.#source = this.#makeSource(config);
  }

  /** Starts polling on the schedule and sending. */
  start(): void {
    const { source, stdout, sink } = this.#config;
    const destination = stdout
      ? "stdout"
      : sink.servers.map((s) => serverLabel(s) + (s.standby ? " (standby)" : "")).join(", ") +
        ` (buffer ${formatSize(sink.bufferLimitBytes)}, overflow ${sink.overflow}${sink.requireAck ? ", acks" : ""})`;
    this.io.logger.info(
      `polling ${source.targets.join(", ")} every ${formatDuration(source.intervalMs)} ` +
        `(shapes ${source.shapes.join(", ")}) and sending to ${destination}`,
    );
    this.#source.pipe(this.#output.writable, { end: false });
    this.#source.start();
    this.#startHealth();
  }

  /**
   * --once: polls every target once, delivers the items (up to --shutdown-timeout) and closes. With a rate
   * shape (any but raw, flat and socket) it polls twice, one --interval apart, and delivers the second poll,
   * whose records have rates. Resolves to the exit code: 0 when every target answered (and matched) and everything was
   * delivered, else 1.
   */
  async once(): Promise<number> {
    const { shapes, intervalMs } = this.#config.source;
    if (shapes.some((shape) => RATE_SHAPES.has(shape))) {
      // Rates need two polls: the first one only primes them, and its findings are logged, not printed.
      const first = performance.now();
      await this.#source.poll();
      this.#failedTargets = 0;
      await delay(Math.max(0, first + intervalMs - performance.now()));
    }
    const items = await this.#source.poll();
    for (const item of items) this.#output.writable.write(item);
    const report = await this.#output.close(this.#config.shutdownTimeoutMs);
    this.io.logger[report.undeliveredEvents > 0 ? "warn" : "info"](
      `polled once: ${items.length} records; ${report.text}`,
    );
    return this.#failedTargets > 0 || report.undeliveredEvents > 0 ? 1 : 0;
  }

  /**
   * Graceful stop: stops polling, hands the last items to the output, sends a last health record,
   * and waits for delivery (acks included) up to --shutdown-timeout.
   */
  async stop(reason: string): Promise<void> {
    this.#stopping = true;
    const deadline = Date.now() + this.#config.shutdownTimeoutMs;
    this.io.logger.info(
      `${reason}: stopping; delivering buffered events for up to ${formatDuration(this.#config.shutdownTimeoutMs)}`,
    );
    this.#stopHealth();
    await this.#retireSource(this.#source, deadline);
    if (this.#config.healthIntervalMs > 0) this.#output.writable.write(this.#healthItem());
    const remaining = Math.max(0, deadline - Date.now());
    const previous = [...this.#retiring];
    this.#retiring.clear();
    const [report, ...reports] = await Promise.all(
      [this.#output, ...previous].map((output) => output.close(remaining)),
    );
    for (const r of [...reports, report as OutputCloseReport]) {
      const level = r.undeliveredEvents > 0 ? "warn" : "info";
      this.io.logger[level](`${r === report ? "stopped" : "previous sink closed"}: ${r.text}`);
    }
  }

  /**
   * The events a stop would still have to deliver, for the words of an exit that cannot wait (a second signal):
   * what every open output holds, queued, batched, or sent and not yet acknowledged.
   */
  heldEvents(): number {
    let events = 0;
    for (const output of [this.#output, ...this.#retiring]) {
      events += Number(output.health().buffered_events) + output.writable.writableLength;
    }
    return events;
  }

  /**
   * Applies a re-read configuration (SIGHUP). The sink is kept, with everything it buffers, unless its
   * own settings changed; the source is replaced only when its settings changed.
   */
  async reload(next: SidecarConfig): Promise<void> {
    const current = this.#config;
    this.io.logger.setLevel(next.logLevel);
    this.io.logger.setFormat(next.logFormat);
    if (next.stdout !== current.stdout || next.once !== current.once) {
      this.io.logger.warn("reload: --stdout and --once cannot change while running; restart to change them");
      next = { ...next, stdout: current.stdout, once: current.once };
    }
    if (JSON.stringify(next.http) !== JSON.stringify(current.http)) {
      this.io.logger.warn("reload: --http cannot change while running; restart to change it");
      next = { ...next, http: current.http };
    }
    let sinkChanged = !next.stdout && JSON.stringify(next.sink) !== JSON.stringify(current.sink);
    // Only the servers changed: the running sink takes them in place, with what it buffers and its connections.
    const serversOnly =
      sinkChanged &&
      this.#output.setServers !== undefined &&
      JSON.stringify({ ...next.sink, servers: [] }) === JSON.stringify({ ...current.sink, servers: [] });
    if (serversOnly) {
      try {
        this.#output.setServers!(next.sink.servers);
      } catch (err) {
        const error = err instanceof InvalidOptionError ? next.origins.usageError("sink", err) : err;
        this.io.logger.error(`reload failed, keeping the running configuration: ${errorMessage(error)}`);
        return;
      }
      sinkChanged = false;
      this.io.logger.info(
        `reload: sending to ${next.sink.servers.map((s) => serverLabel(s)).join(", ")} (the sink and what it holds are kept)`,
      );
    }
    const sourceChanged = JSON.stringify(next.source) !== JSON.stringify(current.source);
    // A new sink on the same --buffer-path can take the directory only once the running sink has let it go.
    const sameDirectory =
      sinkChanged && next.sink.bufferPath !== undefined && next.sink.bufferPath === current.sink.bufferPath;
    let newOutput: Output | undefined;
    let newSource: UwsgiStatsSource | undefined;
    try {
      if (sinkChanged && !sameDirectory) newOutput = this.#makeOutput(next);
      if (sourceChanged) newSource = this.#makeSource(next);
    } catch (err) {
      this.io.logger.error(`reload failed, keeping the running configuration: ${errorMessage(err)}`);
      if (newOutput) void newOutput.close(0);
      return;
    }
    if (sameDirectory) {
      newOutput = await this.#takeOverDirectory(current, next);
      if (newOutput === undefined) return;
    }
    this.#config = next;
    if (sameDirectory) {
      this.#source.pipe(newOutput!.writable, { end: false });
    } else if (newOutput) {
      const old = this.#output;
      this.#source.unpipe(old.writable);
      this.#output = newOutput;
      this.#source.pipe(newOutput.writable, { end: false });
      this.#retire(old);
    }
    if (newSource) {
      const old = this.#source;
      this.#source = newSource;
      await this.#retireSource(old, Date.now() + next.shutdownTimeoutMs);
      newSource.pipe(this.#output.writable, { end: false });
      newSource.start();
      this.io.logger.info(
        `reload: polling ${next.source.targets.join(", ")} every ${formatDuration(next.source.intervalMs)} ` +
          `(shapes ${next.source.shapes.join(", ")})`,
      );
    }
    this.#stopHealth();
    this.#startHealth();
    this.io.logger.info(
      `reload: configuration applied${sinkChanged || sourceChanged ? "" : " (nothing to restart)"}`,
    );
  }

  /**
   * Replaces the sink by one on the same --buffer-path: the running sink closes at once, keeping on disk what it
   * has not delivered, and the new one takes the directory and sends that first. Should the new settings fail, the
   * previous ones are applied again (on the same directory, so nothing is lost either way). Returns undefined then.
   */
  async #takeOverDirectory(current: SidecarConfig, next: SidecarConfig): Promise<Output | undefined> {
    const old = this.#output;
    this.#source.unpipe(old.writable);
    const report = await old.close(0);
    this.#retired.push(old);
    this.io.logger.info(
      `reload: new forward settings on the same --buffer-path; previous sink closed (${report.text}), its undelivered records kept on disk for the new one`,
    );
    try {
      this.#output = this.#makeOutput(next);
      return this.#output;
    } catch (err) {
      this.io.logger.error(`reload failed, keeping the running configuration: ${errorMessage(err)}`);
      this.#output = this.#makeOutput(current);
      this.#source.pipe(this.#output.writable, { end: false });
      return undefined;
    }
  }

  /**
   * Keeps an output a reload replaced until its servers have taken everything it accepted (never dropped on a
   * timeout: a server that is down is retried with backoff), then closes it. `stop()` closes it with the rest.
   */
  #retire(output: Output): void {
    this.#retiring.add(output);
    const held = output.health().buffered_events;
    this.io.logger.info(
      `reload: new forward settings; the previous sink keeps the ${String(held)} events it holds until its servers take them, then closes`,
    );
    void output.drained().then(async () => {
      if (!this.#retiring.delete(output)) return;
      const report = await output.close(0);
      this.#retired.push(output);
      this.io.logger.info(`previous sink closed: ${report.text}`);
    });
  }

  /** `/readyz`: see readiness(). */
  readiness(): Readiness {
    return readiness(this.snapshot());
  }

  /** `/metrics`: the Prometheus text of this moment. */
  metrics(): string {
    return this.#metrics.render(this.snapshot());
  }

  /** What the sidecar is doing now: the source's and every sink's figures. */
  snapshot(): SidecarSnapshot {
    const outputs = [this.#output, ...this.#retiring, ...this.#retired];
    const stdout = this.#output.sink === undefined;
    return {
      labels: this.#source.options.labels,
      source: this.#source.stats(),
      retiredSources: this.#retiredSources,
      sinks: outputs.flatMap((o) => (o.sink ? [o.sink.stats()] : [])),
      servers: this.#output.sink?.stats().servers,
      printed: stdout ? outputs.reduce((n, o) => n + Number(o.health().sent), 0) : undefined,
      bufferLimitBytes: stdout ? undefined : this.#config.sink.bufferLimitBytes,
      stopping: this.#stopping,
    };
  }

  /** Stops a source and moves the items it still holds into the current output. */
  async #retireSource(source: UwsgiStatsSource, deadline: number): Promise<void> {
    await source.stop();
    if (source !== this.#source) {
      const stats = source.stats();
      const totals = this.#retiredSources;
      this.#retiredSources = {
        polls: totals.polls + stats.polls,
        skippedTicks: totals.skippedTicks + stats.skippedTicks,
        records: totals.records + stats.records,
      };
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      finished(source).catch(() => undefined),
      new Promise((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now())))),
    ]);
    clearTimeout(timer);
    source.unpipe();
    for (
      let item = source.read() as ForwardItem | null;
      item !== null;
      item = source.read() as ForwardItem | null
    ) {
      this.#output.writable.write(item);
    }
  }

  /**
   * A ForwardSink (or stdout) for `config`; the sink's validation errors are named by the setting they came from.
   * With --stdout the forward settings are checked all the same (a sink that never connects is made and dropped),
   * so a configuration tried with --stdout also runs without it.
   */
  #makeOutput(config: SidecarConfig): Output {
    try {
      if (!config.stdout) {
        const output = sinkOutput(config.sink, this.io.logger, this.#states, this.io.fatal);
        output.sink?.on("ack", (info) => this.#metrics.ack(info));
        return output;
      }
      // Checked without bufferPath: --stdout sends nothing, so it neither creates nor locks the directory.
      const {
        bufferPath: _path,
        durability: _durability,
        fsync: _fsync,
        diskLimitBytes: _limit,
        ...memory
      } = config.sink;
      new ForwardSink(forwardOptions(memory, this.io.logger)).destroy();
      return stdoutOutput(this.io.stdout);
    } catch (err) {
      if (err instanceof InvalidOptionError) throw config.origins.usageError("sink", err);
      // A --buffer-path that cannot be used (not a directory, not writable, in use, another format): a wrong setting.
      if (BUFFER_PATH_CODES.has(errorCode(err))) {
        // The system's part of the message names the path again, unquoted: a long one is cut there too.
        const path = config.sink.bufferPath ?? "";
        const short = path.length > 100 ? `${path.slice(0, 100)}…` : path;
        const message = path === "" ? errorMessage(err) : errorMessage(err).split(path).join(short);
        throw config.origins.usageError("sink", new InvalidOptionError("bufferPath", message));
      }
      throw err;
    }
  }

  #makeSource(config: SidecarConfig): UwsgiStatsSource {
    let source: UwsgiStatsSource;
    try {
      source = new UwsgiStatsSource(config.source);
    } catch (err) {
      throw err instanceof InvalidOptionError ? config.origins.usageError("source", err) : err;
    }
    const key = (target: string): string => `target ${target}`;
    const shapes = new Map<string, MetricShape>([
      [config.source.tags.summary, "summary"],
      [config.source.tags.worker, "worker"],
      [config.source.tags.emperor, "emperor"],
    ]);
    const memory = new MemoryReportCheck(source.options.tags, (message) => this.io.logger.warn(message));
    // The newest record time of the poll under way, for its debug line.
    let newest: number | undefined;
    source.on("record", (item) => {
      this.#health.record(item.record);
      this.#metrics.item(shapes.get(item.tag), item);
      memory.record(item);
      if (typeof item.time === "number") newest = Math.max(newest ?? item.time, item.time);
    });
    source.on("poll", (summary) => {
      memory.poll();
      this.#health.poll(summary.targets);
      this.#failedTargets += summary.failed;
      if (summary.targets > 0 && this.#states.get("targets") === "none") {
        this.#states.change("targets", "some", "info", `targets matched again: polling ${summary.targets}`);
      }
      // --once writes its items after the poll: the line would say they were handed over before they are.
      if (!this.#config.once && this.io.logger.enabled("debug")) this.#logPoll(source, summary, newest);
      newest = undefined;
    });
    source.on("targetError", (err, target) => {
      const code = errorCode(err);
      this.#health.targetError(target, code);
      if (err.code === UwsgiStatsErrorCode.NO_TARGETS) {
        this.#states.change("targets", "none", "warn", `${code}: ${errorMessage(err)}`, { code, target });
        return;
      }
      this.#states.change(
        key(target),
        `error ${code}`,
        "warn",
        `target ${target} failing: ${code}: ${errorMessage(err)}`,
        { code, target },
      );
    });
    source.on("stale", (err, target) => {
      this.#states.change(
        key(target),
        "stale",
        "warn",
        `target ${target} is stale (nothing answers); retrying quietly`,
        { code: errorCode(err), target },
      );
    });
    source.on("recover", (target, info) => {
      this.#health.targetOk(target);
      this.#states.change(
        key(target),
        "ok",
        "info",
        `target ${target} recovered after ${info.failedPolls} failed polls (${formatDuration(Math.round(info.downMs))})`,
        { target },
      );
    });
    source.on("reset", (target, info) => {
      this.io.logger.info(`target ${target}: counters reset (${info.kind}, master pid ${String(info.pid)})`, {
        target,
      });
    });
    source.on("error", (err) => this.io.fatal(err));
    return source;
  }

  /**
   * The debug line of a scheduled poll, written once the stream has taken its records: how many of the records
   * polled so far still wait for the output (0: every one of them went through the sink's `send()`), and the frames
   * on the wire whose ack has not come back.
   */
  #logPoll(source: UwsgiStatsSource, summary: PollSummary, newest: number | undefined): void {
    const waiting = source.readableLength + this.#output.writable.writableLength;
    const inFlight = this.#output.sink?.stats().servers.reduce((n, s) => n + s.inFlightFrames, 0);
    this.io.logger.debug(
      `poll: ${summary.records} records from ${summary.ok} of ${summary.targets} targets in ${summary.durationMs} ms` +
        (newest === undefined ? "" : `, newest at ${new Date(newest).toISOString()}`) +
        `; ${waiting} waiting for the output` +
        (inFlight === undefined ? "" : `; ${inFlight} frames in flight`),
    );
  }

  #healthItem(): ForwardItem {
    return {
      tag: this.#config.healthTag,
      time: Date.now(),
      record: this.#health.build(
        this.#source.options.labels,
        mergeOutputHealth([
          ...[this.#output, ...this.#retiring].map((o) => o.health()),
          // Closed sinks keep their counters in the totals, but their servers are gone.
          // (What a sink closed by a reload kept on --buffer-path is counted by the sink that replays it.)
          ...this.#retired.map((o) => ({
            ...o.health(),
            servers: [],
            buffered_bytes: 0,
            buffered_events: 0,
          })),
        ]),
      ),
    };
  }

  #startHealth(): void {
    const interval = this.#config.healthIntervalMs;
    if (interval <= 0) return;
    this.#healthTimer = setInterval(() => this.#output.writable.write(this.#healthItem()), interval);
    this.#healthTimer.unref();
  }

  #stopHealth(): void {
    if (this.#healthTimer) clearInterval(this.#healthTimer);
    this.#healthTimer = undefined;
  }
}
