import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { pack, unpack } from "msgpackr";
import { NorikraRemoteError } from "../../src/cli/norikra/errors.js";
import { NorikraRpc } from "../../src/cli/norikra/rpc.js";

const RACE = "RuntimeError, can't add a new key into hash during iteration";

/**
 * A msgpack-RPC server that fails each call's first `failures` attempts as `errorClass`, then answers true: the race
 * inside Norikra that this stands in for cannot be made to happen on demand.
 */
async function flakyNorikra(
  failures: number,
  errorClass: string,
): Promise<{ server: Server; calls: string[] }> {
  const calls: string[] = [];
  const seen = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const [, msgid, method] = unpack(Buffer.concat(chunks)) as [number, number, string, unknown[]];
      calls.push(method);
      const attempt = seen.get(method) ?? 0;
      seen.set(method, attempt + 1);
      const answer = attempt < failures ? [1, msgid, errorClass, RACE] : [1, msgid, null, true];
      res.writeHead(200, { "content-type": "application/x-msgpack" }).end(pack(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, calls };
}

function rpcFor(server: Server): NorikraRpc {
  return new NorikraRpc("127.0.0.1", (server.address() as AddressInfo).port, {
    timeoutMs: 2000,
    retryDelayMs: 1,
  });
}

test("a repeatable call (reserve, open, fields…) that Norikra fails with a ServerError is made again", async (t) => {
  const { server, calls } = await flakyNorikra(2, "Norikra::RPC::ServerError");
  t.after(() => server.close());
  const rpc = rpcFor(server);
  assert.equal(await rpc.reserve("summary", "rss", "integer"), true);
  assert.equal(await rpc.open("summary", { host: "string" }), true);
  assert.deepEqual(calls, ["reserve", "reserve", "reserve", "open", "open", "open"]);
});

test("after 3 more attempts the ServerError is the call's error, naming Norikra's message", async (t) => {
  const { server, calls } = await flakyNorikra(10, "Norikra::RPC::ServerError");
  t.after(() => server.close());
  await assert.rejects(rpcFor(server).reserve("summary", "rss", "integer"), (err: unknown) => {
    assert.ok(err instanceof NorikraRemoteError);
    assert.equal(err.code, "NORIKRA_REMOTE_ERROR");
    assert.match(err.message, /Norikra refused reserve: Norikra::RPC::ServerError: RuntimeError, can't add/);
    return true;
  });
  assert.equal(calls.length, 4);
});

test("a call that is not repeatable (register) and a ClientError (a bad call) are not made again", async (t) => {
  const server = await flakyNorikra(1, "Norikra::RPC::ServerError");
  t.after(() => server.server.close());
  await assert.rejects(rpcFor(server.server).register("q", null, "SELECT 1 FROM x"), NorikraRemoteError);
  assert.deepEqual(server.calls, ["register"]);
  const client = await flakyNorikra(1, "Norikra::RPC::ClientError");
  t.after(() => client.server.close());
  await assert.rejects(rpcFor(client.server).reserve("summary", "rss", "integer"), NorikraRemoteError);
  assert.deepEqual(client.calls, ["reserve"]);
});
