import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { request } from "node:http";
import { parse, parseAllDocuments } from "yaml";
import { parseFlags } from "../../src/cli/config/argv.js";
import { readConfigFile } from "../../src/cli/config/file.js";
import { buildConfig, loadConfig } from "../../src/cli/config/load.js";
import { USAGE_EXIT_CODE } from "../../src/cli/errors.js";
import { endpointUrl } from "../helpers/cli-http.js";
import { ROOT, startCli } from "../helpers/cli-process.js";
import { startCliReceiver } from "../helpers/cli-receiver.js";
import { cliTempDir } from "../helpers/cli-temp.js";
import { parseFluentBitClassic } from "../helpers/fluent-bit-config.js";
import { findSamples, parsePrometheusText } from "../helpers/prometheus-text.js";

const EXAMPLES = join(ROOT, "examples");
const read = (name: string): string => readFileSync(join(EXAMPLES, name), "utf8");
const PACKAGE = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  bin: Record<string, string>;
  files: string[];
};
/** The command's script inside an installed package: `uwsgi-forward/dist/esm/cli/main.js`. */
const INSTALLED_SCRIPT = `/uwsgi-forward/${(PACKAGE.bin["uwsgi-forward"] as string).replace(/^\.\//, "")}`;

function unitEntries(text: string): [string, string][] {
  const entries: [string, string][] = [];
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) entries.push([m[1] as string, m[2] as string]);
  }
  return entries;
}

test("uwsgi-forward.service starts node and the script by absolute paths, with valid flags and documentation that ships", async (t) => {
  const entries = unitEntries(read("uwsgi-forward.service"));
  const unit = new Map(entries);
  const [node, script, ...args] = (unit.get("ExecStart") ?? "").split(/\s+/) as [string, string, ...string[]];
  assert.match(node, /^\/.*\/node$/, "node by its absolute path: systemd's PATH has no nvm directory");
  assert.ok(script.startsWith("/") && script.endsWith(INSTALLED_SCRIPT), `${script} is the package's bin`);
  assert.deepEqual(args, ["--config", "/etc/uwsgi-forward.yaml"]);
  assert.equal(parseFlags(args).settings.get("config")?.value, "/etc/uwsgi-forward.yaml");
  assert.match(unit.get("ExecReload") ?? "", /kill -HUP \$MAINPID/);
  assert.equal(unit.get("KillSignal"), "SIGTERM");
  assert.equal(unit.get("RestartPreventExitStatus"), String(USAGE_EXIT_CODE));

  // Documentation= names files of the installed package: they exist in it (docs/ is in package.json "files").
  const packageRoot = script.slice(0, script.length - INSTALLED_SCRIPT.length) + "/uwsgi-forward/";
  const docs = entries.filter(([key]) => key === "Documentation").map(([, value]) => value);
  assert.ok(docs.length > 0);
  for (const doc of docs) {
    assert.ok(doc.startsWith(`file:${packageRoot}`), `${doc} is in the installed package`);
    const inPackage = doc.slice(`file:${packageRoot}`.length);
    assert.ok(existsSync(join(ROOT, inPackage)), `${inPackage} exists`);
    assert.ok(PACKAGE.files.includes(inPackage.split("/")[0] as string), `${inPackage} is published`);
  }

  const raw = readConfigFile(join(EXAMPLES, "uwsgi-forward.yaml"));
  assert.equal(raw.get("shared-key-file")?.value, "/etc/uwsgi-forward/shared-key");
  raw.delete("shared-key-file"); // a path on the target machine
  const config = buildConfig(raw, join(EXAMPLES, "uwsgi-forward.yaml"));
  assert.ok(Number(unit.get("TimeoutStopSec")) * 1000 > config.shutdownTimeoutMs);
  assert.deepEqual(config.source.shapes, ["summary", "worker"]);
  assert.equal(config.sink.servers.filter((s) => s.standby).length, 1);
  assert.deepEqual(config.http, { host: "127.0.0.1", port: 9191 });

  await t.test("systemd-analyze verify accepts the unit", (t) => {
    if (spawnSync("sh", ["-c", "command -v systemd-analyze"]).status !== 0) {
      t.skip("systemd-analyze is missing (package systemd): the unit was checked by parsing only");
      return;
    }
    const dir = cliTempDir(t);
    let text = read("uwsgi-forward.service");
    if (!existsSync(node)) {
      // verify checks that ExecStart's program exists: on a machine whose node lives elsewhere, use that one.
      t.diagnostic(`${node} does not exist here; verifying with ${process.execPath}`);
      text = text.replace(`ExecStart=${node} `, `ExecStart=${process.execPath} `);
    }
    writeFileSync(join(dir, "uwsgi-forward.service"), text);
    const result = spawnSync("systemd-analyze", ["verify", join(dir, "uwsgi-forward.service")], {
      encoding: "utf8",
    });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr.trim(), "", "no warning either");
  });
});

test("fluent-bit.yaml holds the same sections and values as fluent-bit.conf", () => {
  const classic = parseFluentBitClassic(read("fluent-bit.conf"));
  const yaml = parse(read("fluent-bit.yaml")) as {
    service: Record<string, unknown>;
    pipeline: { inputs: Record<string, unknown>[]; outputs: Record<string, unknown>[] };
  };
  // Keys are case-insensitive in both formats; YAML gives typed values where the classic format has words.
  const words = (section: Record<string, unknown>): Record<string, string> =>
    Object.fromEntries(Object.entries(section).map(([k, v]) => [k.toLowerCase(), String(v).toLowerCase()]));
  const classicWords = (name: string): Record<string, string>[] =>
    classic
      .filter((s) => s.name === name)
      .map((s) => Object.fromEntries([...s.params].map(([k, v]) => [k, v.toLowerCase()])));
  assert.deepEqual([words(yaml.service)], classicWords("SERVICE"));
  assert.deepEqual(yaml.pipeline.inputs.map(words), classicWords("INPUT"));
  assert.deepEqual(yaml.pipeline.outputs.map(words), classicWords("OUTPUT"));
  assert.deepEqual(
    classic.map((s) => s.name),
    ["SERVICE", "INPUT", "OUTPUT"],
    "nothing in the classic file that the YAML one lacks",
  );
});

interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: Record<string, Record<string, string>> }[];
  ports?: { name: string; containerPort: number }[];
  volumeMounts?: { name: string; mountPath: string }[];
  livenessProbe?: { httpGet: { path: string; port: string | number } };
  readinessProbe?: { httpGet: { path: string; port: string | number } };
}

interface PodSpec {
  containers: Container[];
  volumes: { name: string; emptyDir?: unknown }[];
  terminationGracePeriodSeconds: number;
}

interface KubernetesExample {
  ini: string;
  sharedKey: string;
  annotations: Record<string, string>;
  volumes: { name: string; emptyDir?: unknown }[];
  app: Container;
  sidecar: Container;
  gracePeriodS: number;
}

function kubernetesExample(): KubernetesExample {
  const docs = parseAllDocuments(read("kubernetes/deployment.yaml")).map((d) => {
    assert.deepEqual(d.errors, []);
    return d.toJS() as {
      kind: string;
      data?: Record<string, string>;
      stringData?: Record<string, string>;
      spec?: { template: { metadata: { annotations: Record<string, string> }; spec: PodSpec } };
    };
  });
  const kind = (k: string) => docs.find((d) => d.kind === k);
  const pod = kind("Deployment")?.spec?.template;
  assert.ok(pod);
  const containers = pod.spec.containers;
  return {
    ini: kind("ConfigMap")?.data?.["uwsgi.ini"] ?? "",
    sharedKey: kind("Secret")?.stringData?.["shared-key"] ?? "",
    annotations: pod.metadata.annotations,
    volumes: pod.spec.volumes,
    app: containers.find((c) => c.name === "app") as Container,
    sidecar: containers.find((c) => c.name === "uwsgi-forward") as Container,
    gracePeriodS: pod.spec.terminationGracePeriodSeconds,
  };
}

test("the Kubernetes example: a sidecar the command accepts, sharing the stats socket, probed and scraped on its --http port", () => {
  const k = kubernetesExample();
  const env = Object.fromEntries((k.sidecar.env ?? []).map((e) => [e.name, e.value ?? "from-the-pod"]));
  const loaded = loadConfig(k.sidecar.args ?? [], env);
  assert.equal(loaded.kind, "run");
  if (loaded.kind !== "run") return;
  const { config } = loaded;
  assert.deepEqual(loaded.warnings, []);
  assert.ok(config.http, "--http is on");
  assert.equal(config.logFormat, "json");

  // The stats socket: in an emptyDir both containers mount, where the ini puts it and the sidecar reads it.
  const stats = /^stats = (.*)$/m.exec(k.ini)?.[1] as string;
  assert.deepEqual(config.source.targets, [stats]);
  const shared = k.volumes.filter((v) => v.emptyDir !== undefined).map((v) => v.name);
  for (const container of [k.app, k.sidecar]) {
    const mount = container.volumeMounts?.find((m) => shared.includes(m.name));
    assert.ok(
      mount && stats.startsWith(mount.mountPath + "/"),
      `${container.name} mounts the socket's directory`,
    );
  }
  assert.match(k.ini, /^memory-report = true$/m);

  // Probes and the scrape: the port --http listens on.
  const port = (p: string | number): number =>
    typeof p === "number" ? p : (k.sidecar.ports?.find((q) => q.name === p)?.containerPort ?? -1);
  assert.equal(k.sidecar.livenessProbe?.httpGet.path, "/healthz");
  assert.equal(k.sidecar.readinessProbe?.httpGet.path, "/readyz");
  assert.equal(port(k.sidecar.livenessProbe?.httpGet.port ?? ""), config.http.port);
  assert.equal(port(k.sidecar.readinessProbe?.httpGet.port ?? ""), config.http.port);
  assert.equal(config.http.host, "0.0.0.0", "reachable by the kubelet and Prometheus");
  assert.deepEqual(k.annotations, {
    "prometheus.io/scrape": "true",
    "prometheus.io/port": String(config.http.port),
    "prometheus.io/path": "/metrics",
  });
  assert.ok(k.gracePeriodS * 1000 > config.shutdownTimeoutMs, "the pod waits for the final flush");
  assert.ok(k.sidecar.command?.[0]?.startsWith("/") && k.sidecar.command[1]?.endsWith(INSTALLED_SCRIPT));
  assert.equal(
    (k.sidecar.env ?? []).find((e) => e.name === "UWSGI_FORWARD_SHARED_KEY")?.valueFrom?.secretKeyRef?.key,
    "shared-key",
  );
});

test("the Kubernetes example runs: its uwsgi.ini in a real uWSGI, its sidecar's args, its probes and its scrape", async (t) => {
  const k = kubernetesExample();
  const dir = cliTempDir(t);
  mkdirSync(join(dir, "app"));
  writeFileSync(
    join(dir, "app", "wsgi.py"),
    "def application(env, start_response):\n    start_response('200 OK', [])\n    return [b'ok']\n",
  );
  // The pod's paths, moved into a temp dir; the app's port becomes a unix socket (loopback only here).
  const ini = k.ini
    .replaceAll("/run/uwsgi/", `${dir}/`)
    .replace(/^http-socket = .*$/m, `http-socket = ${dir}/http.sock`)
    .replace(/^chdir = \/app$/m, `chdir = ${dir}/app`);
  writeFileSync(join(dir, "uwsgi.ini"), ini);
  const uwsgi = spawn("uwsgi", ["--plugins", "python3", "--ini", join(dir, "uwsgi.ini")], {
    cwd: dir,
    stdio: "ignore",
  });
  t.after(async () => {
    if (uwsgi.exitCode === null) {
      const gone = once(uwsgi, "exit");
      uwsgi.kill("SIGTERM");
      await gone;
    }
  });

  const receiver = await startCliReceiver(t, { sharedKey: k.sharedKey });
  const args = (k.sidecar.args ?? []).map((arg) =>
    arg
      .replace("/run/uwsgi/", `${dir}/`)
      .replace(/^--forward=.*$/, `--forward=127.0.0.1:${receiver.port}`)
      .replace(/^--http=.*$/, "--http=127.0.0.1:0"),
  );
  const env: NodeJS.ProcessEnv = {
    UWSGI_FORWARD_HOST_NAME: "my-app-7d9f5-x2x4q",
    UWSGI_FORWARD_SHARED_KEY: k.sharedKey,
  };
  const cli = startCli(t, args, env);
  const url = await endpointUrl(cli);
  // memory-report measures a worker after each request it serves: serve one.
  await new Promise<void>((resolve, reject) =>
    request({ socketPath: `${dir}/http.sock`, path: "/" }, (res) => res.resume().on("end", resolve))
      .on("error", reject)
      .end(),
  );
  await receiver.waitFor(
    (events) =>
      events.some((e) => e.tag === "uwsgi.summary" && e.record.workers === 4 && Number(e.record.rss) > 0),
    "a summary of the ini's 4 workers, with memory measured",
  );
  for (const probe of [k.sidecar.livenessProbe, k.sidecar.readinessProbe]) {
    const res = await fetch(`${url}${probe?.httpGet.path}`);
    assert.equal(res.status, 200, `${probe?.httpGet.path}: ${await res.text()}`);
  }
  const samples = parsePrometheusText(
    await (await fetch(`${url}${k.annotations["prometheus.io/path"]}`)).text(),
  );
  const labels = { host: "my-app-7d9f5-x2x4q", env: "production" };
  assert.equal(findSamples(samples, "uwsgi_worker_rss_bytes", labels).length, 4);
  assert.ok(
    findSamples(samples, "uwsgi_rss_bytes", labels)[0]!.value > 0,
    "memory-report is on: rss is measured",
  );
  // --log-format json: every line the sidecar wrote is one JSON object.
  for (const text of cli.stderr.filter((l) => l !== ""))
    assert.equal(typeof JSON.parse(text).message, "string");
  cli.child.kill("SIGTERM");
  assert.equal(await cli.exited, 0);
});
