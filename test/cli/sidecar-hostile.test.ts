import assert from "node:assert/strict";
import { test } from "node:test";
import { startCli } from "../helpers/cli-process.js";
import { startCliReceiver } from "../helpers/cli-receiver.js";
import { cliTempDir } from "../helpers/cli-temp.js";
import { GOOD_DOC, HOSTILE } from "../helpers/hostile-documents.js";
import { fakeStatsServer } from "../helpers/uwsgi-fake-servers.js";

interface Line {
  tag: string;
  record: Record<string, unknown>;
}

async function hostileServer(
  t: Parameters<typeof cliTempDir>[0] & { after: (fn: () => Promise<void>) => void },
  body: string,
) {
  const dir = cliTempDir(t);
  const documents = [body, GOOD_DOC];
  let served = 0;
  const server = await fakeStatsServer(dir, "s.sock", (socket) =>
    socket.end(documents[Math.min(served++, 1)] as string),
  );
  t.after(() => server.close());
  return server;
}

for (const hostile of HOSTILE) {
  test(`the sidecar sending to a server: ${hostile.name} is a ${hostile.code} record, polling goes on, exit 0`, async (t) => {
    const server = await hostileServer(t, hostile.body());
    const receiver = await startCliReceiver(t);
    const cli = startCli(t, [
      "--stats",
      server.path,
      "--forward",
      `127.0.0.1:${receiver.port}`,
      "--shape",
      "raw,summary,worker,flat",
      "--interval",
      "200ms",
      "--timeout",
      "5s",
    ]);
    await receiver.waitFor(
      (events) => events.filter((e) => e.tag === "uwsgi.summary").length >= 2,
      "two summaries after the hostile document",
      60_000,
    );
    cli.child.kill("SIGTERM");
    assert.equal(await cli.exited, 0, cli.stderr.join("\n"));
    const errors = receiver.events.filter((e) => e.tag === "uwsgi.error");
    assert.deepEqual(
      errors.map((e) => e.record.code),
      [hostile.code],
    );
    await receiver.waitFor(
      (events) => events.some((e) => e.tag === "uwsgi.health"),
      "the last health record",
    );
    assert.ok(!cli.stderr.some((l) => /fatal|error:/.test(l)), cli.stderr.join("\n"));
  });

  test(`--stdout: ${hostile.name} is a ${hostile.code} line and polling goes on`, async (t) => {
    const server = await hostileServer(t, hostile.body());
    const cli = startCli(t, [
      "--stdout",
      "--stats",
      server.path,
      "--shape",
      "raw,flat",
      "--interval",
      "200ms",
      "--timeout",
      "5s",
    ]);
    await cli.waitForStdoutLines(5, 60_000);
    cli.child.kill("SIGTERM");
    assert.equal(await cli.exited, 0, cli.stderr.join("\n"));
    const lines = cli.stdout.filter((l) => l !== "").map((l) => JSON.parse(l) as Line);
    assert.equal(lines[0]?.tag, "uwsgi.error");
    assert.equal(lines[0]?.record.code, hostile.code);
    assert.deepEqual(
      lines.slice(1, 5).map((l) => l.tag),
      ["uwsgi.stats", "uwsgi.flat", "uwsgi.stats", "uwsgi.flat"],
    );
  });
}
