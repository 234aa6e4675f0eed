import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import path from "node:path";

const dist = path.resolve(import.meta.dirname, "../dist");
type Api = typeof import("../src/index.js");

test("instanceof holds across the ESM and the CommonJS build (npm test builds dist first)", async () => {
  const esm = (await import(path.join(dist, "esm/index.js"))) as Api;
  const cjs = createRequire(import.meta.url)(path.join(dist, "cjs/index.js")) as Api;
  assert.notEqual(esm.ForwardAuthError, cjs.ForwardAuthError, "two copies of every class are loaded");
  const fromCjs = new cjs.ForwardAuthError("refused", "shared_key mismatch");
  assert.ok(fromCjs instanceof esm.ForwardAuthError);
  assert.ok(fromCjs instanceof esm.ForwardError);
  assert.ok(fromCjs instanceof esm.UwsgiForwardError);
  assert.ok(!(fromCjs instanceof esm.ForwardProtocolError), "a brand is not every brand");
  const fromEsm = new esm.UwsgiStatsError("UWSGI_STATS_TIMEOUT", "/run/a.sock", "timed out");
  assert.ok(fromEsm instanceof cjs.UwsgiStatsError);
  assert.ok(fromEsm instanceof cjs.UwsgiForwardError);
  assert.ok(!(fromEsm instanceof cjs.ForwardError));
  assert.ok(new esm.InvalidOptionError("port", "bad") instanceof cjs.InvalidOptionError);
  assert.ok(!(new Error("plain") instanceof esm.UwsgiForwardError));
  assert.ok(!((null as unknown as object) instanceof esm.UwsgiForwardError));
});

test("every error keeps its class name, stable code and cause", async () => {
  const { ForwardConnectError } = await import("../src/index.js");
  const cause = new Error("ECONNREFUSED");
  const err = new ForwardConnectError("cannot connect", cause);
  assert.equal(err.name, "ForwardConnectError");
  assert.equal(err.code, "FORWARD_CONNECT_FAILED");
  assert.equal(err.cause, cause);
  assert.ok(err instanceof Error);
});
