import { finished } from "node:stream/promises";
import { UwsgiStatsSource, type ForwardItem } from "../index.js";
import type { SidecarConfig } from "./config.js";
import { formatDuration } from "./durations.js";
import { Health } from "./health.js";
import { formatSize } from "./sizes.js";
import { errorCode, errorMessage, serverLabel } from "./labels.js";
import type { Logger } from "./logger.js";
import type { Output } from "./output.js";
import { sinkOutput } from "./sink-output.js";
import { StateLog } from "./state-log.js";
import { stdoutOutput, type LineOutput } from "./stdout-output.js";

/** What the sidecar needs from its process: a logger (stderr) and stdout (for --stdout). */
export interface SidecarIo {
  readonly logger: Logger;
  readonly stdout: LineOutput;
  /** Called on a fatal stream error (a bug): the process should exit 1. */
  readonly fatal: (err: Error) => void;
}

/**
 * The long-running sidecar: a UwsgiStatsSource piped into a ForwardSink (or stdout), a health record
 * every --health-interval, state changes logged once, graceful stop and config reload.
 */
export class Sidecar {
  #config: SidecarConfig;
  #source: UwsgiStatsSource;
  #output: Output;
  #healthTimer: NodeJS.Timeout | undefined;
  readonly #health = new Health();
  readonly #states: StateLog;
  #failedTargets = 0;

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
   * --once: polls every target once, delivers the items (up to --shutdown-timeout) and closes.
   * Resolves to the exit code: 0 when every target answered and everything was delivered, else 1.
   */
  async once(): Promise<number> {
    const items = await this.#source.poll();
    for (const item of items) this.#output.writable.write(item);
    const report = await this.#output.close(this.#config.shutdownTimeoutMs);
    this.io.logger.info(`polled once: ${items.length} records; ${report.text}`);
    return this.#failedTargets > 0 || report.undeliveredEvents > 0 ? 1 : 0;
  }

  /**
   * Graceful stop: stops polling, hands the last items to the output, sends a last health record,
   * and waits for delivery (acks included) up to --shutdown-timeout.
   */
  async stop(reason: string): Promise<void> {
    const deadline = Date.now() + this.#config.shutdownTimeoutMs;
    this.io.logger.info(
      `${reason}: stopping; delivering buffered events for up to ${formatDuration(this.#config.shutdownTimeoutMs)}`,
    );
    this.#stopHealth();
    await this.#retireSource(this.#source, deadline);
    if (this.#config.healthIntervalMs > 0) this.#output.writable.write(this.#healthItem());
    const report = await this.#output.close(Math.max(0, deadline - Date.now()));
    this.io.logger.info(`stopped: ${report.text}`);
  }

  /**
   * Applies a re-read configuration (SIGHUP). The sink is kept, with everything it buffers, unless its
   * own settings changed; the source is replaced only when its settings changed.
   */
  async reload(next: SidecarConfig): Promise<void> {
    const current = this.#config;
    this.io.logger.setLevel(next.logLevel);
    if (next.stdout !== current.stdout || next.once !== current.once) {
      this.io.logger.warn("reload: --stdout and --once cannot change while running; restart to change them");
      next = { ...next, stdout: current.stdout, once: current.once };
    }
    const sinkChanged = !next.stdout && JSON.stringify(next.sink) !== JSON.stringify(current.sink);
    const sourceChanged = JSON.stringify(next.source) !== JSON.stringify(current.source);
    let newOutput: Output | undefined;
    let newSource: UwsgiStatsSource | undefined;
    try {
      if (sinkChanged) newOutput = this.#makeOutput(next);
      if (sourceChanged) newSource = this.#makeSource(next);
    } catch (err) {
      this.io.logger.error(`reload failed, keeping the running configuration: ${errorMessage(err)}`);
      if (newOutput) void newOutput.close(0);
      return;
    }
    this.#config = next;
    if (newOutput) {
      const old = this.#output;
      this.#source.unpipe(old.writable);
      this.#output = newOutput;
      this.#source.pipe(newOutput.writable, { end: false });
      this.io.logger.info(
        "reload: new forward settings; the previous sink delivers what it holds, then closes",
      );
      void old
        .close(next.shutdownTimeoutMs)
        .then((report) => this.io.logger.info(`previous sink closed: ${report.text}`));
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

  /** Stops a source and moves the items it still holds into the current output. */
  async #retireSource(source: UwsgiStatsSource, deadline: number): Promise<void> {
    await source.stop();
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

  #makeOutput(config: SidecarConfig): Output {
    if (config.stdout) return stdoutOutput(this.io.stdout);
    return sinkOutput(config.sink, this.io.logger, this.#states, this.io.fatal);
  }

  #makeSource(config: SidecarConfig): UwsgiStatsSource {
    const source = new UwsgiStatsSource(config.source);
    const key = (target: string): string => `target ${target}`;
    source.on("record", (item: ForwardItem) => this.#health.record(item.record));
    source.on("poll", (summary: { failed: number }) => {
      this.#health.poll();
      this.#failedTargets += summary.failed;
    });
    source.on("targetError", (err: unknown, target: string) => {
      const code = errorCode(err);
      this.#health.targetError(target, code);
      this.#states.change(
        key(target),
        `error ${code}`,
        "warn",
        `target ${target} failing: ${code}: ${errorMessage(err)}`,
      );
    });
    source.on("stale", (target: string) => {
      this.#states.change(
        key(target),
        "stale",
        "warn",
        `target ${target} is stale (nothing answers); retrying quietly`,
      );
    });
    source.on("recover", (target: string, info: { failedPolls: number; downMs: number }) => {
      this.#health.targetOk(target);
      this.#states.change(
        key(target),
        "ok",
        "info",
        `target ${target} recovered after ${info.failedPolls} failed polls (${formatDuration(Math.round(info.downMs))})`,
      );
    });
    source.on("reset", (target: string, info: { kind: string; pid: unknown }) => {
      this.io.logger.info(`target ${target}: counters reset (${info.kind}, master pid ${String(info.pid)})`);
    });
    source.on("error", (err) => this.io.fatal(err));
    return source;
  }

  #healthItem(): ForwardItem {
    return {
      tag: this.#config.healthTag,
      time: Date.now(),
      record: this.#health.build(this.#source.options.labels, this.#output.health()),
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
