import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { HttpEndpoint, HTTP_LIMITS, type HttpEndpointHandlers } from "../../src/cli/http-endpoint.js";
import type { Readiness } from "../../src/cli/metrics/readiness.js";

async function endpoint(
  t: { after: (fn: () => Promise<void>) => void },
  handlers: Partial<HttpEndpointHandlers> = {},
  limits: Partial<typeof HTTP_LIMITS> = {},
): Promise<{ url: string; port: number; errors: unknown[]; cutOff: Promise<string> }> {
  const errors: unknown[] = [];
  let cut: (path: string) => void = () => undefined;
  const cutOff = new Promise<string>((resolve) => (cut = resolve));
  const server = await HttpEndpoint.listen(
    { host: "127.0.0.1", port: 0 },
    {
      readiness: (): Readiness => ({ ready: true, reason: "fine" }),
      metrics: () => "# HELP x X.\n# TYPE x gauge\nx 1\n",
      onError: (err) => errors.push(err),
      onCutOff: (path) => cut(path),
      ...handlers,
    },
    { ...HTTP_LIMITS, ...limits },
  );
  t.after(() => server.close());
  return { url: `http://127.0.0.1:${server.address.port}`, port: server.address.port, errors, cutOff };
}

/** Opens a raw TCP connection to the endpoint and resolves once it is connected. */
async function rawSocket(port: number): Promise<Socket> {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  await once(socket, "connect");
  return socket;
}

test("GET and HEAD of /healthz, /readyz and /metrics answer with the right status and content type", async (t) => {
  let ready: Readiness = { ready: true, reason: "1 of 1 targets up" };
  const { url } = await endpoint(t, { readiness: () => ready });
  const health = await fetch(`${url}/healthz`);
  assert.deepEqual([health.status, await health.text()], [200, "ok\n"]);
  const readyz = await fetch(`${url}/readyz`);
  assert.deepEqual([readyz.status, await readyz.text()], [200, "ready: 1 of 1 targets up\n"]);
  ready = { ready: false, reason: "no Forward server connected: 127.0.0.1:24224 down" };
  const notReady = await fetch(`${url}/readyz?verbose=1`);
  assert.deepEqual(
    [notReady.status, await notReady.text()],
    [503, "not ready: no Forward server connected: 127.0.0.1:24224 down\n"],
  );
  const metrics = await fetch(`${url}/metrics`);
  assert.equal(metrics.status, 200);
  assert.equal(metrics.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  assert.equal(await metrics.text(), "# HELP x X.\n# TYPE x gauge\nx 1\n");
  const head = await fetch(`${url}/metrics`, { method: "HEAD" });
  const length = String(Buffer.byteLength("# HELP x X.\n# TYPE x gauge\nx 1\n"));
  assert.deepEqual([head.status, head.headers.get("content-length"), await head.text()], [200, length, ""]);
});

test("other methods get 405 with Allow, other paths 404, and a handler that throws a 500 and an error report", async (t) => {
  const { url, errors } = await endpoint(t, {
    metrics: () => {
      throw new Error("bug");
    },
  });
  for (const method of ["POST", "PUT", "DELETE", "OPTIONS"]) {
    const res = await fetch(`${url}/metrics`, { method, ...(method === "POST" ? { body: "x" } : {}) });
    assert.equal(res.status, 405, method);
    assert.equal(res.headers.get("allow"), "GET, HEAD");
  }
  for (const path of ["/", "/metrics/", "/favicon.ico", "/metricsx"]) {
    assert.equal((await fetch(`${url}${path}`)).status, 404, path);
  }
  assert.deepEqual(errors, [], "405 and 404 never call a handler");
  const failed = await fetch(`${url}/metrics`);
  assert.deepEqual([failed.status, await failed.text()], [500, "internal error; see the sidecar's log\n"]);
  assert.match(String(errors.at(0)), /Error: bug/);
  assert.equal((await fetch(`${url}/healthz`)).status, 200, "the endpoint goes on");
});

test("a client that never finishes its request head is disconnected (headersTimeout)", async (t) => {
  const { port } = await endpoint(t, {}, { headersTimeoutMs: 200, requestTimeoutMs: 200 });
  const socket = await rawSocket(port);
  socket.write("GET /metrics HTTP/1.1\r\nHost: x\r\n");
  let answer = "";
  socket.on("data", (chunk: Buffer) => (answer += chunk.toString()));
  await once(socket, "close");
  assert.match(answer, /^HTTP\/1\.1 408 Request Timeout\r\n/);
});

test("a scraper that stops reading a large /metrics is cut off at the response deadline", async (t) => {
  const big = "# HELP x X.\n# TYPE x gauge\n" + "x 1\n".repeat(4 * 1024 * 1024);
  const { port, cutOff } = await endpoint(t, { metrics: () => big }, { responseDeadlineMs: 300 });
  const socket = await rawSocket(port);
  socket.pause();
  socket.write("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  assert.equal(await cutOff, "/metrics");
  let bytes = 0;
  socket.on("data", (chunk: Buffer) => (bytes += chunk.length));
  socket.resume();
  await once(socket, "close");
  assert.ok(
    bytes < big.length,
    `the client got ${bytes} of ${big.length} bytes and then the connection closed`,
  );
});

test("a request head larger than maxHeaderBytes gets 431 and is not served", async (t) => {
  const { port } = await endpoint(t);
  const socket = await rawSocket(port);
  let answer = "";
  socket.on("data", (chunk: Buffer) => (answer += chunk.toString()));
  socket.write(
    `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(HTTP_LIMITS.maxHeaderBytes)}\r\n\r\n`,
  );
  await once(socket, "close");
  assert.match(answer, /^HTTP\/1\.1 431 /);
});

test("connections beyond maxConnections are closed at once", async (t) => {
  const { port } = await endpoint(t, {}, { maxConnections: 2 });
  const held = [await rawSocket(port), await rawSocket(port)];
  t.after(() => held.forEach((s) => s.destroy()));
  const third = await rawSocket(port);
  let answer = "";
  third.on("data", (chunk: Buffer) => (answer += chunk.toString()));
  third.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  await once(third, "close");
  assert.equal(answer, "", "refused without an answer");
  assert.equal(held.filter((s) => s.closed).length, 0, "the first two are kept");
});
