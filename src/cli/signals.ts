/** What the sidecar does on each signal. */
export interface SignalHandlers {
  /** First SIGTERM or SIGINT: stop polling, deliver what is buffered, exit. */
  stop(signal: NodeJS.Signals): void;
  /** Second SIGTERM or SIGINT while stopping: exit at once. */
  force(signal: NodeJS.Signals): void;
  /** SIGHUP: re-read the config file. */
  reload(): void;
}

/** Exit code of a process ended at once by a second signal: 128 + the signal number, as shells report. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return signal === "SIGINT" ? 130 : 143;
}

/**
 * Installs the handlers on `target` (process) and returns a function that removes them.
 * The first SIGTERM/SIGINT calls `stop`, any later one `force`.
 */
export function installSignalHandlers(
  handlers: SignalHandlers,
  target: Pick<NodeJS.Process, "on" | "off"> = process,
): () => void {
  let stopping = false;
  const onStop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      handlers.force(signal);
      return;
    }
    stopping = true;
    handlers.stop(signal);
  };
  const onHup = (): void => handlers.reload();
  target.on("SIGTERM", onStop);
  target.on("SIGINT", onStop);
  target.on("SIGHUP", onHup);
  return () => {
    target.off("SIGTERM", onStop);
    target.off("SIGINT", onStop);
    target.off("SIGHUP", onHup);
  };
}
