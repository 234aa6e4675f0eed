import { formatListenAddress } from "./config/listen-address.js";
import { loadConfig, type SidecarConfig } from "./config/load.js";
import { CliUsageError, USAGE_EXIT_CODE } from "./errors.js";
import { helpText } from "./help.js";
import { HttpEndpoint } from "./http-endpoint.js";
import { errorCode, errorMessage } from "./labels.js";
import { Logger } from "./log.js";
import { Sidecar } from "./sidecar.js";
import { installSignalHandlers, signalExitCode } from "./signals.js";
import type { LineOutput } from "./stdout-output.js";
import { VERSION } from "./version.js";

/** The process around the sidecar: its streams and how to leave at once. */
export interface RunIo {
  readonly stdout: LineOutput;
  readonly stderr: { write(text: string): unknown };
  /** Ends the process now (second signal, fatal error). */
  readonly exit: (code: number) => void;
}

/**
 * Runs `uwsgi-forward` with `argv` (without node and the script) and `env`; resolves to the exit code:
 * 0 done, 1 failure at run time, 2 wrong flag or value (one line on stderr).
 */
export async function run(argv: readonly string[], env: NodeJS.ProcessEnv, io: RunIo): Promise<number> {
  let config: SidecarConfig;
  let warnings: string[];
  try {
    const loaded = loadConfig(argv, env);
    if (loaded.kind === "help") {
      io.stdout.write(helpText());
      return 0;
    }
    if (loaded.kind === "version") {
      io.stdout.write(`${VERSION}\n`);
      return 0;
    }
    ({ config, warnings } = loaded);
  } catch (err) {
    if (!(err instanceof CliUsageError)) throw err;
    io.stderr.write(`uwsgi-forward: ${err.message}\n`);
    return USAGE_EXIT_CODE;
  }

  const logger = new Logger(config.logLevel, io.stderr, undefined, config.logFormat);
  for (const warning of warnings) logger.warn(warning);
  const fatal = (err: Error): void => {
    logger.error(`fatal: ${errorMessage(err)}`);
    io.exit(1);
  };
  let sidecar: Sidecar;
  try {
    sidecar = new Sidecar(config, { logger, stdout: io.stdout, fatal });
  } catch (err) {
    if (!(err instanceof CliUsageError)) throw err;
    io.stderr.write(`uwsgi-forward: ${err.message}\n`);
    return USAGE_EXIT_CODE;
  }
  if (config.once) {
    if (config.http) logger.warn("--http is not served with --once: the command exits after one delivery");
    return sidecar.once();
  }

  let endpoint: HttpEndpoint | undefined;
  if (config.http) {
    const where = formatListenAddress(config.http);
    try {
      endpoint = await HttpEndpoint.listen(config.http, {
        readiness: () => sidecar.readiness(),
        metrics: () => sidecar.metrics(),
        onError: (err) => logger.error(`--http: ${errorMessage(err)}`, { code: errorCode(err) }),
        onCutOff: (path) =>
          logger.debug(`--http: a client did not take ${path} in time; its connection was closed`),
      });
    } catch (err) {
      logger.error(`--http ${where}: cannot listen: ${errorCode(err)}: ${errorMessage(err)}`, {
        code: errorCode(err),
      });
      return 1;
    }
    const { host, port } = endpoint.address;
    logger.info(`serving /healthz, /readyz and /metrics on http://${formatListenAddress({ host, port })}`);
  }
  sidecar.start();
  return new Promise<number>((resolve) => {
    // Reloads and the stop run one after another, never interleaved.
    let chain = Promise.resolve();
    const uninstall = installSignalHandlers({
      stop: (signal) => {
        chain = chain
          .then(() => sidecar.stop(`${signal} received`))
          .catch((err: unknown) => logger.error(`stop failed: ${errorMessage(err)}`))
          // The endpoint answers (/readyz: 503 "stopping") until the final flush is over.
          .then(() => endpoint?.close())
          .then(() => {
            uninstall();
            resolve(0);
          });
      },
      force: (signal) => {
        const held = sidecar.heldEvents();
        logger.warn(
          `${signal} received again: exiting now without waiting for delivery; ` +
            (held === 0 ? "nothing was held, nothing is lost" : `${held} events still held are lost`),
        );
        io.exit(signalExitCode(signal));
      },
      reload: () => {
        chain = chain.then(async () => {
          if (config.configFile === undefined) {
            logger.warn("SIGHUP received but no --config file to re-read; nothing changed");
            return;
          }
          logger.info(`SIGHUP received: re-reading ${config.configFile}`);
          try {
            const loaded = loadConfig(argv, env);
            if (loaded.kind !== "run") return;
            await sidecar.reload(loaded.config);
            config = loaded.config;
          } catch (err) {
            logger.error(`reload failed, keeping the running configuration: ${errorMessage(err)}`);
          }
        });
      },
    });
  });
}
