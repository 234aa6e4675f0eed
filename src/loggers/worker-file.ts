// eslint-disable-next-line @typescript-eslint/ban-ts-comment
// @ts-ignore: import.meta is for ES modules; scripts/build.mjs rewrites this line in the CommonJS build
const here: string = import.meta.url;

/** The winston transport's worker script, beside this module in whichever build (or the sources) loaded it. */
export const WINSTON_WORKER_FILE = new URL(
  here.endsWith(".ts") ? "./winston-worker.ts" : "./winston-worker.js",
  here,
);
