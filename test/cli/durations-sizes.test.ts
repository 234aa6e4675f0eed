import assert from "node:assert/strict";
import { test } from "node:test";
import { formatDuration, parseDuration } from "../../src/cli/config/durations.js";
import { formatSize, parseSize } from "../../src/cli/config/sizes.js";

test("durations are read in ms, s, m and h, with fractions", () => {
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("1s"), 1000);
  assert.equal(parseDuration("1.5s"), 1500);
  assert.equal(parseDuration("1m"), 60_000);
  assert.equal(parseDuration("2h"), 7_200_000);
  assert.equal(parseDuration("0"), 0);
});

test("a duration without a unit, with a sign or with an unknown unit is refused", () => {
  for (const text of ["1", "-1s", "1 sec", "s", "", "1d", "1e3ms", "one second"]) {
    assert.equal(parseDuration(text), undefined, text);
  }
});

test("durations format back to what they parse from", () => {
  for (const ms of [0, 250, 1000, 1500, 60_000, 3_600_000]) {
    assert.equal(parseDuration(formatDuration(ms)), ms);
  }
});

test("sizes are read in bytes, binary units and decimal units, case-insensitively", () => {
  assert.equal(parseSize("65536"), 65536);
  assert.equal(parseSize("512KiB"), 512 * 1024);
  assert.equal(parseSize("64MiB"), 64 * 1024 * 1024);
  assert.equal(parseSize("64mib"), 64 * 1024 * 1024);
  assert.equal(parseSize("1GiB"), 1024 ** 3);
  assert.equal(parseSize("100MB"), 100_000_000);
  assert.equal(parseSize("1.5KiB"), 1536);
});

test("a size with an unknown unit or a sign is refused", () => {
  for (const text of ["64M", "-1", "lots", "", "1TiB", "MiB"]) {
    assert.equal(parseSize(text), undefined, text);
  }
});

test("sizes format with the largest binary unit that divides them", () => {
  assert.equal(formatSize(64 * 1024 * 1024), "64MiB");
  assert.equal(formatSize(1536), "1536");
  assert.equal(parseSize(formatSize(3 * 1024)), 3 * 1024);
});
