import assert from "node:assert/strict";
import type { ReceivedEvent } from "../helpers/cli-receiver.js";
import { testWithUwsgi } from "../helpers/uwsgi-installed.js";
import { startCliPipeline } from "../helpers/cli-pipeline.js";

const POLL_LINE =
  /debug poll: (\d+) records from 1 of 1 targets in [\d.]+ ms, newest at (\S+); (\d+) waiting for the output; (\d+) frames in flight$/;

/** An event's time in epoch milliseconds, however the receiver decoded it. */
function millis(event: ReceivedEvent): number {
  const time = event.time;
  return typeof time === "number" ? time * 1000 : time.seconds * 1000 + Math.round(time.nanoseconds / 1e6);
}

testWithUwsgi(
  "--log-level debug: one line per poll once its records went to the sink, naming their time, what still waits and the frames in flight",
  async (t) => {
    const { receiver, cli } = await startCliPipeline(t, [
      "--require-ack",
      "--shape",
      "summary,worker",
      "--interval",
      "100ms",
      "--health-interval",
      "0",
      "--log-level",
      "debug",
    ]);
    await cli.waitForLog(/connected to/);
    await receiver.waitFor((events) => events.length >= 9, "three polls of three records");
    cli.child.kill("SIGTERM");
    assert.equal(await cli.exited, 0);
    const polls = cli.stderr.flatMap((line) => {
      const m = POLL_LINE.exec(line);
      return m ? [{ records: Number(m[1]), newest: Date.parse(m[2]!), waiting: Number(m[3]) }] : [];
    });
    assert.ok(polls.length >= 3, cli.stderr.join("\n"));
    for (const poll of polls) {
      assert.equal(poll.waiting, 0, "the pipe took every record at once");
      // One target: every record of the poll carries the time of its reply, the one the line names.
      const records = receiver.events.filter((e) => millis(e) === poll.newest);
      assert.equal(records.length, poll.records, `the ${poll.records} records at ${poll.newest}`);
      assert.deepEqual(records.map((e) => e.tag).sort(), ["uwsgi.summary", "uwsgi.worker", "uwsgi.worker"]);
    }
  },
);

testWithUwsgi("at the default log level (info), polls are not logged", async (t) => {
  const { receiver, cli } = await startCliPipeline(t, ["--interval", "100ms"]);
  await receiver.waitFor((events) => events.length >= 3, "three polls");
  cli.child.kill("SIGTERM");
  assert.equal(await cli.exited, 0);
  assert.ok(
    cli.stderr.some((line) => / info polling /.test(line)),
    cli.stderr.join("\n"),
  );
  assert.ok(!cli.stderr.some((line) => /poll:/.test(line)), cli.stderr.join("\n"));
});
