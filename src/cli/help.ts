import { formatDuration } from "./config/durations.js";
import { COMMAND_FLAGS, SETTINGS } from "./config/settings.js";
import { VERSION } from "./version.js";

/** The --help text, generated from the settings table so it never disagrees with the parser. */
export function helpText(): string {
  const lines = [
    `uwsgi-forward ${VERSION}: poll uWSGI stats servers and forward the records to Fluentd, td-agent or Fluent Bit.`,
    "",
    "Usage: uwsgi-forward [--flag value]...",
    "       uwsgi-forward norikra --norikra HOST:PORT [--queries FILE] [--watch]   (set Norikra up: norikra --help)",
    "With no flags: poll /tmp/stat.sock every second, send to 127.0.0.1:24224 with tag uwsgi.stats.",
    "Every flag is also an environment variable (shown) and a key of the --config file (the flag without --).",
    "Precedence: flags, then environment, then config file. Durations: 500ms, 1s, 1m. Sizes: 64MiB.",
    "",
  ];
  for (const setting of SETTINGS) {
    const name = setting.flag ?? "(no flag)";
    const value = setting.kind === "boolean" ? "" : ` ${setting.valueName}`;
    lines.push(`  ${name}${value}`);
    lines.push(`      ${setting.help}`);
    lines.push(`      env ${setting.env}; default ${setting.defaultText}`);
  }
  lines.push(`  ${COMMAND_FLAGS.help.short}, ${COMMAND_FLAGS.help.flag}`, `      ${COMMAND_FLAGS.help.help}`);
  lines.push(
    `  ${COMMAND_FLAGS.version.short}, ${COMMAND_FLAGS.version.flag}`,
    `      ${COMMAND_FLAGS.version.help}`,
  );
  lines.push(
    "",
    "Signals: SIGTERM/SIGINT stop polling and deliver what is buffered (up to --shutdown-timeout), then exit 0;",
    "a second one exits at once. SIGHUP re-reads the --config file without dropping buffered events.",
    `Exit codes: 0 done, 1 failure at run time, 2 wrong flag or value. Health records every ${formatDuration(60_000)} by default. Docs: docs/cli.md.`,
  );
  return lines.join("\n") + "\n";
}
