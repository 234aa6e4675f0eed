import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTcpServer, type AddressInfo, type Server } from "node:net";
import { pack, unpack } from "msgpackr";
import { runNorikra } from "../../src/cli/norikra/command.js";
import { NorikraErrorCode } from "../../src/cli/norikra/errors.js";
import { NORIKRA_MAX_ANSWER_BYTES, NorikraRpc } from "../../src/cli/norikra/rpc.js";

// Servers that answer Norikra's RPC calls wrongly on purpose: Norikra itself cannot be made to.

type Answer = (method: string, msgid: number, res: ServerResponse) => void;

/** An HTTP server that reads each msgpack-RPC call and lets `answer` reply; `calls` lists the methods seen. */
async function rpcServer(
  t: { after: (fn: () => void) => void },
  answer: Answer,
): Promise<{ port: number; calls: string[]; server: Server }> {
  const calls: string[] = [];
  const server = createHttpServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const [, msgid, method] = unpack(Buffer.concat(chunks)) as [number, number, string];
      calls.push(method);
      server.emit("call", method);
      answer(method, msgid, res);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, calls, server };
}

function reply(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { "content-type": "application/x-msgpack" }).end(pack(body));
}

async function norikra(
  argv: string[],
  stopped = new Promise<void>(() => {}),
): Promise<{ code: number; stderr: string }> {
  let stderr = "";
  const code = await runNorikra(argv, {
    stdout: { write: () => true },
    stderr: { write: (text: string) => (stderr += text) },
    stopped,
  });
  return { code, stderr };
}

test("norikra: an answer of the wrong shape to any call is NORIKRA_PROTOCOL naming the call, never a TypeError", async (t) => {
  const wrong: [string, unknown][] = [
    ["targets", null],
    ["targets", [{ name: 1, auto_field: true }]],
    ["targets", "stats"],
    ["fields", [{ name: "host" }]],
    ["queries", [{ name: "q", group: null, expression: "SELECT 1", targets: null, suspended: false }]],
    ["open", "yes"],
    ["reserve", null],
    ["register", { ok: true }],
    ["deregister", 1],
  ];
  for (const [method, result] of wrong) {
    const { port } = await rpcServer(t, (m, msgid, res) => {
      const good: Record<string, unknown> = {
        targets: [{ name: "stats", auto_field: true }],
        fields: [{ name: "host", type: "string", optional: false }],
        queries: [
          { name: "q", group: null, expression: "SELECT 1 FROM x", targets: ["x"], suspended: false },
        ],
      };
      reply(res, [1, msgid, null, m === method ? result : (good[m] ?? true)]);
    });
    const rpc = new NorikraRpc("127.0.0.1", port);
    const call: Record<string, () => Promise<unknown>> = {
      targets: () => rpc.targets(),
      fields: () => rpc.fields("stats"),
      queries: () => rpc.queries(),
      open: () => rpc.open("stats", {}),
      reserve: () => rpc.reserve("stats", "rss", "integer"),
      register: () => rpc.register("q", null, "SELECT 1 FROM x"),
      deregister: () => rpc.deregister("q"),
    };
    await assert.rejects(call[method]!(), (err: unknown) => {
      assert.equal((err as { code?: string }).code, NorikraErrorCode.PROTOCOL, `${method} ${String(err)}`);
      assert.match((err as Error).message, new RegExp(`an answer to ${method} that is not `));
      return true;
    });
  }
});

test("norikra: [1, id, null, null] to targets exits 1 with one NORIKRA_PROTOCOL line, no stack trace", async (t) => {
  const { port } = await rpcServer(t, (_m, msgid, res) => reply(res, [1, msgid, null, null]));
  const { code, stderr } = await norikra(["--norikra", `127.0.0.1:${port}`]);
  assert.equal(code, 1);
  assert.match(
    stderr,
    /does not answer like Norikra's RPC port \(an answer to targets that is not a list of .*: nil\)/,
  );
  assert.doesNotMatch(stderr, /TypeError|internal error|\n {4}at /);
});

test("norikra --watch keeps watching after a wrong answer and stops on its stop signal", async (t) => {
  const { port, calls, server } = await rpcServer(t, (_m, msgid, res) => reply(res, [1, msgid, null, null]));
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  server.on("call", () => {
    if (calls.length === 3) stop();
  });
  const { code, stderr } = await norikra(
    ["--norikra", `127.0.0.1:${port}`, "--watch", "--watch-interval", "10ms"],
    stopped,
  );
  assert.equal(code, 0, stderr);
  assert.ok(calls.length >= 3, `${calls.length} calls`);
  assert.match(stderr, /stopped watching Norikra/);
  assert.equal(
    stderr.match(/does not answer like Norikra's RPC port/g)?.length,
    1,
    "the same problem is logged once",
  );
});

test("norikra: --timeout bounds the whole call: an answer dripped a byte at a time is cut", async (t) => {
  const body = pack([1, 0, null, []]);
  const { port } = await rpcServer(t, (_m, _msgid, res) => {
    res.writeHead(200, { "content-length": body.length * 40 });
    let sent = 0;
    const drip = setInterval(() => {
      if (res.destroyed || sent >= body.length * 40) return clearInterval(drip);
      res.write(Buffer.from([0xc0]));
      sent++;
    }, 20);
    res.on("close", () => clearInterval(drip));
  });
  await assert.rejects(new NorikraRpc("127.0.0.1", port, { timeoutMs: 100 }).targets(), {
    code: NorikraErrorCode.UNREACHABLE,
    message: /no complete answer to targets within 100 ms/,
  });
});

test("norikra --watch: a stop signal ends a call in flight at once, whatever --timeout is", async (t) => {
  const { port, server } = await rpcServer(t, (_m, _msgid, res) => {
    res.writeHead(200, { "content-length": 100 });
    res.write(Buffer.from([0x94]));
  });
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  server.on("call", () => setImmediate(stop));
  const { code, stderr } = await norikra(
    ["--norikra", `127.0.0.1:${port}`, "--watch", "--timeout", "1h"],
    stopped,
  );
  assert.equal(code, 0, stderr);
  assert.match(stderr, /stopped watching Norikra/);
  assert.doesNotMatch(stderr, /error/);
});

test(`norikra: an answer larger than ${NORIKRA_MAX_ANSWER_BYTES} bytes is NORIKRA_PROTOCOL, announced or streamed`, async (t) => {
  const big = Buffer.alloc(NORIKRA_MAX_ANSWER_BYTES + 1);
  const announced = await rpcServer(t, (_m, _msgid, res) => {
    res.writeHead(200, { "content-length": 60 * 1024 * 1024 });
    res.write(big.subarray(0, 1024));
  });
  const streamed = await rpcServer(t, (_m, _msgid, res) => {
    res.writeHead(200, { "content-type": "application/x-msgpack" });
    res.end(big);
  });
  for (const { port } of [announced, streamed]) {
    await assert.rejects(new NorikraRpc("127.0.0.1", port).event("q"), {
      code: NorikraErrorCode.PROTOCOL,
      message: new RegExp(`an answer to event larger than ${NORIKRA_MAX_ANSWER_BYTES} bytes`),
    });
  }
});

test("norikra: an answer that is not HTTP is NORIKRA_PROTOCOL, not NORIKRA_UNREACHABLE", async (t) => {
  const server = createTcpServer((socket) => {
    socket.on("error", () => {});
    socket.end("SSH-2.0-OpenSSH_9.2p1\r\n");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => server.close());
  await assert.rejects(new NorikraRpc("127.0.0.1", (server.address() as AddressInfo).port).targets(), {
    code: NorikraErrorCode.PROTOCOL,
    message: /an answer to targets that is not HTTP \(HPE_/,
  });
});

test("norikra: an answer carrying another call's id is NORIKRA_PROTOCOL", async (t) => {
  const { port } = await rpcServer(t, (_m, msgid, res) => reply(res, [1, msgid + 1, null, []]));
  await assert.rejects(new NorikraRpc("127.0.0.1", port).targets(), {
    code: NorikraErrorCode.PROTOCOL,
    message: /an answer to targets with another call's id/,
  });
});
