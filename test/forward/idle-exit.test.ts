import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { ForwardReceiver } from "../helpers/forward-receiver.js";

const script = path.join(import.meta.dirname, "../fixtures/send-one-and-exit.ts");

function runScript(port: number, acks: boolean): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ["--import", "tsx", script, String(port), acks ? "acks" : "no-acks"],
      { timeout: 60_000 },
      (_err, _stdout, stderr) => resolve({ code: child.exitCode, stderr }),
    );
  });
}

for (const acks of [false, true]) {
  test(`a script that sends one event and never calls close() exits with the event delivered (acks ${acks ? "on" : "off"})`, async (t) => {
    const receiver = await ForwardReceiver.start();
    t.after(() => receiver.close());
    const { code, stderr } = await runScript(receiver.port, acks);
    assert.equal(code, 0, `the script exited by itself (killed after 60 s otherwise): ${stderr}`);
    assert.equal(receiver.events.length, 1);
    assert.deepEqual(receiver.events[0]!.record, { hello: "world" });
  });
}
