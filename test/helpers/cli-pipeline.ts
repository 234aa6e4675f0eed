import { startCli, type CliProcess } from "./cli-process.js";
import { startCliReceiver, type CliReceiver } from "./cli-receiver.js";
import { startCliUwsgi, type CliUwsgi } from "./cli-uwsgi.js";

/** The main job as the sidecar tests run it: a real uWSGI, the sidecar polling it, a receiver behind it. */
export interface CliPipeline {
  readonly uwsgi: CliUwsgi;
  readonly receiver: CliReceiver;
  readonly cli: CliProcess;
}

/**
 * Starts a real uWSGI, a receiver (`receiver` its options) and `uwsgi-forward --stats <uWSGI> --forward
 * 127.0.0.1:<receiver> ...args`; all stopped after the test.
 */
export async function startCliPipeline(
  t: { after: (fn: () => Promise<void>) => void },
  args: string[],
  receiverOptions?: Parameters<typeof startCliReceiver>[1],
): Promise<CliPipeline> {
  const uwsgi = await startCliUwsgi(t);
  const receiver = await startCliReceiver(t, receiverOptions);
  const cli = startCli(t, ["--stats", uwsgi.stats, "--forward", `127.0.0.1:${receiver.port}`, ...args]);
  return { uwsgi, receiver, cli };
}
