import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer as createHttpServer, type ServerResponse } from "node:http";
import { createServer as createTcpServer, type AddressInfo } from "node:net";
import { pack, unpack } from "msgpackr";
import { runNorikra } from "../../src/cli/norikra/command.js";
import { NorikraErrorCode } from "../../src/cli/norikra/errors.js";
import { NorikraRpc } from "../../src/cli/norikra/rpc.js";
import { fuzzCases, type Rng } from "../helpers/fuzz.js";

// A seeded fuzzer over Norikra's RPC answers: right shapes, wrong shapes, error answers of every type, bodies that
// are not msgpack or cut short, HTTP statuses, lying content-lengths, silences and bytes that are not HTTP at all.
// Whatever comes back, a call resolves to its documented type or rejects with a NORIKRA_* error, and
// `uwsgi-forward norikra` exits 0 or 1 with one-line messages: never a TypeError, never a hang past --timeout.

const CODES = new Set<string>(Object.values(NorikraErrorCode));

/** A value where Norikra puts a result, of the right shape for `method` one time in three. */
function result(random: Rng, method: string, depth = 0): unknown {
  if (depth === 0 && random.int(3) === 0) {
    const right: Record<string, unknown> = {
      targets: random.pick([[], [{ name: "stats", auto_field: true }]]),
      fields: random.pick([[], [{ name: "host", type: "string", optional: false }]]),
      queries: [],
      event: [[1700000000, { n: 1 }]],
    };
    return right[method] ?? random.int(2) === 0;
  }
  switch (random.int(depth > 1 ? 7 : 10)) {
    case 0:
      return null;
    case 1:
      return random.pick([0, -1, 1.5, 2 ** 53, true, false, "", "x".repeat(random.int(3000))]);
    case 2:
      return random.bytes(random.int(100));
    case 3:
      return { name: random.pick([1, null, "stats"]), type: random.pick([null, "integer"]), optional: "no" };
    case 4:
      return [random.pick([1700000000, "t", null]), random.pick([{}, null, [1]])];
    case 5:
      return { targets: random.pick([null, "x", [1]]), name: "q", group: 3, expression: null, suspended: 1 };
    case 6:
      return { auto_field: random.pick([true, "true"]), name: random.pick(["stats", 7]) };
    default:
      return Array.from({ length: random.int(4) }, () => result(random, method, depth + 1));
  }
}

/** Writes one answer to a call of `method`. */
function answer(random: Rng, method: string, msgid: number, res: ServerResponse): void {
  const body = (): Buffer => {
    switch (random.int(8)) {
      case 0:
        return pack([
          1,
          msgid,
          random.pick(["Norikra::RPC::ClientError", "Norikra::RPC::ServerError", 5, null, ["x"]]),
          result(random, method, 1),
        ]);
      case 1:
        return pack(
          random.pick([
            [1, msgid, null],
            [0, msgid, null, true],
            [1, msgid, null, true, 5],
            { a: 1 },
            null,
            "ok",
          ]),
        );
      case 2:
        return random.bytes(random.int(200));
      case 3: {
        const whole = pack([1, msgid, null, result(random, method)]);
        return whole.subarray(0, random.int(whole.length));
      }
      case 4:
        return Buffer.from([0xdd, 0x7f, 0xff, 0xff, 0xff]);
      default:
        return pack([1, msgid, null, result(random, method)]);
    }
  };
  switch (random.int(10)) {
    case 0:
      res.writeHead(random.pick([200, 204, 301, 404, 500])).end(body());
      return;
    case 1: {
      const bytes = body();
      res.writeHead(200, { "content-length": bytes.length + 1 + random.int(100) });
      res.write(bytes);
      res.socket?.end();
      return;
    }
    case 2:
      res.writeHead(200, { "content-length": 2 ** 40 });
      res.write(body());
      setImmediate(() => res.destroy());
      return;
    case 3:
      res.socket?.destroy();
      return;
    case 4:
      res.writeHead(200);
      res.write(body());
      return; // never ends: --timeout must
    default:
      res.writeHead(200, { "content-type": "application/x-msgpack" }).end(body());
  }
}

test("fuzz: whatever Norikra's RPC port answers, calls reject with NORIKRA_* errors and the command exits 0 or 1 in one-line messages", async (t) => {
  let random: Rng | undefined;
  const http = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const [, msgid, method] = unpack(Buffer.concat(chunks)) as [number, number, string];
      answer(random!, method, msgid, res);
    });
  });
  const raw = createTcpServer((socket) => {
    socket.on("error", () => {});
    socket.on("data", () =>
      socket.end(
        random!.pick([
          "SSH-2.0-x\r\n",
          "HTTP/9.9 999\r\n\r\n",
          "\u0000\u0001",
          "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        ]),
      ),
    );
  });
  for (const server of [http, raw]) {
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
  }
  t.after(() => {
    http.closeAllConnections();
    http.close();
    raw.close();
  });
  const cases = await fuzzCases("norikra answers", async (caseRandom) => {
    random = caseRandom;
    const port = ((random.int(5) === 0 ? raw : http).address() as AddressInfo).port;
    const rpc = new NorikraRpc("127.0.0.1", port, { timeoutMs: 200, retryDelayMs: 1 });
    const calls: [string, () => Promise<unknown>, (v: unknown) => boolean][] = [
      ["targets", () => rpc.targets(), Array.isArray],
      ["fields", () => rpc.fields("stats"), Array.isArray],
      ["queries", () => rpc.queries(), Array.isArray],
      ["event", () => rpc.event("q"), Array.isArray],
      ["open", () => rpc.open("stats", {}), (v) => typeof v === "boolean"],
      ["reserve", () => rpc.reserve("stats", "rss", "integer"), (v) => typeof v === "boolean"],
    ];
    const [method, call, typed] = random.pick(calls);
    try {
      const value = await call();
      assert.ok(typed(value), `${method} resolved to ${JSON.stringify(value)}`);
    } catch (err) {
      assert.ok(CODES.has((err as { code?: string }).code ?? ""), `${method}: ${(err as Error).stack}`);
      assert.doesNotMatch((err as Error).message, /\n/);
    }
    if (random.int(4) !== 0) return;
    let stderr = "";
    const code = await runNorikra(["--norikra", `127.0.0.1:${port}`, "--timeout", "200ms"], {
      stdout: { write: () => true },
      stderr: { write: (text: string) => (stderr += text) },
      stopped: new Promise(() => {}),
    });
    assert.ok(code === 0 || code === 1, `exit ${code}: ${stderr}`);
    assert.doesNotMatch(stderr, /TypeError|internal error|\n {4}at /, stderr);
  });
  t.diagnostic(`${cases} cases`);
});
