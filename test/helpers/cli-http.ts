import type { CliProcess } from "./cli-process.js";

/** The base URL of a sidecar's `--http` endpoint (`http://127.0.0.1:PORT`), from its start line (text or JSON). */
export async function endpointUrl(cli: CliProcess): Promise<string> {
  const line = await cli.waitForLog(/serving \/healthz, \/readyz and \/metrics on /);
  const url = /on (http:\/\/[^\s"]+)/.exec(line)?.[1];
  if (url === undefined) throw new Error(`no URL in ${line}`);
  return url;
}
