import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The stats documents captured from a real uWSGI, kept in the repository (test/fixtures/uwsgi, see its README). */
export const UWSGI_SAMPLES = fileURLToPath(new URL("../fixtures/uwsgi/", import.meta.url));

/** The bytes of one sample, by file name (`seed-idle.json`). */
export function uwsgiSample(name: string): Buffer {
  return readFileSync(new URL(`../fixtures/uwsgi/${name}`, import.meta.url));
}
