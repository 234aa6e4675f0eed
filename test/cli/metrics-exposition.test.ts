import { test } from "node:test";
import assert from "node:assert/strict";
import { Exposition, escapeLabelValue, formatValue } from "../../src/cli/metrics/exposition.js";
import { Histogram } from "../../src/cli/metrics/histogram.js";

test("samples of one family are grouped under one HELP and one TYPE line, whatever the order they come in", () => {
  const out = new Exposition();
  out.gauge("a_bytes", "A.", 1, { target: "x" });
  out.counter("b_total", "B.", 2);
  out.gauge("a_bytes", "A.", 3, { target: "y" });
  assert.equal(
    out.text(),
    [
      "# HELP a_bytes A.",
      "# TYPE a_bytes gauge",
      'a_bytes{target="x"} 1',
      'a_bytes{target="y"} 3',
      "# HELP b_total B.",
      "# TYPE b_total counter",
      "b_total 2",
      "",
    ].join("\n"),
  );
});

test("label values escape backslash, double quote and line feed; help texts escape backslash and line feed", () => {
  assert.equal(escapeLabelValue('C:\\dir "x"\nnext'), 'C:\\\\dir \\"x\\"\\nnext');
  const out = new Exposition();
  out.gauge("g", "one\\two\nthree", 1, { target: '/run/"odd"\\app.sock' });
  assert.deepEqual(out.text().split("\n").slice(0, 3), [
    "# HELP g one\\\\two\\nthree",
    "# TYPE g gauge",
    'g{target="/run/\\"odd\\"\\\\app.sock"} 1',
  ]);
});

test("values use the text format's spelling of infinities and NaN", () => {
  assert.deepEqual([Infinity, -Infinity, NaN, 0.25, 12].map(formatValue), [
    "+Inf",
    "-Inf",
    "NaN",
    "0.25",
    "12",
  ]);
});

test("a series given twice, a counter without _total, a bad name or a reserved label name is a bug that throws", () => {
  const out = new Exposition();
  out.gauge("g", "G.", 1, { a: "1" });
  assert.throws(() => out.gauge("g", "G.", 2, { a: "1" }), /given twice/);
  assert.throws(() => out.counter("requests", "R.", 1), /must end with _total/);
  assert.throws(() => out.gauge("bad-name", "B.", 1), /invalid metric name/);
  assert.throws(() => out.gauge("h", "H.", 1, { __reserved: "x" }), /invalid label name/);
  out.counter("c_total", "C.", 1);
  assert.throws(() => out.gauge("c_total", "C.", 1, { other: "x" }), /is a counter, not a gauge/);
});

test("a histogram writes cumulative buckets, +Inf, _sum and _count", () => {
  const histogram = new Histogram([0.01, 0.1, 1]);
  for (const seconds of [0.005, 0.05, 0.05, 2]) histogram.observe(seconds);
  const out = new Exposition();
  out.histogram("lat_seconds", "L.", histogram.figures(), { server: "s" });
  assert.deepEqual(out.text().split("\n").slice(2, -1), [
    'lat_seconds_bucket{server="s",le="0.01"} 1',
    'lat_seconds_bucket{server="s",le="0.1"} 3',
    'lat_seconds_bucket{server="s",le="1"} 3',
    'lat_seconds_bucket{server="s",le="+Inf"} 4',
    'lat_seconds_sum{server="s"} 2.105',
    'lat_seconds_count{server="s"} 4',
  ]);
});
