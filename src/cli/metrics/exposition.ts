/** The Content-Type of the Prometheus text exposition format this writer produces. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Metric types of the text format that the sidecar uses. */
export type MetricType = "counter" | "gauge" | "histogram";

/** Label names and values of one series. */
export type MetricLabels = Readonly<Record<string, string>>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A histogram's figures: cumulative counts per upper bound (seconds, ascending), the sum and the count. */
export interface HistogramFigures {
  readonly bounds: readonly number[];
  /** `cumulative[i]` observations were ≤ `bounds[i]`. */
  readonly cumulative: readonly number[];
  readonly sum: number;
  readonly count: number;
}

interface Family {
  readonly type: MetricType;
  readonly help: string;
  readonly lines: string[];
  readonly series: Set<string>;
}

/**
 * Builds one scrape in the Prometheus text format 0.0.4: samples are grouped by family whatever the order they are
 * added in, each family has one `# HELP` and one `# TYPE` line, label values and help texts are escaped, and a
 * name, a label name or a series given twice is a bug that throws (never a scrape Prometheus would reject).
 */
export class Exposition {
  readonly #families = new Map<string, Family>();

  /** A counter sample; `name` ends with `_total`. */
  counter(name: string, help: string, value: number, labels: MetricLabels = {}): void {
    if (!name.endsWith("_total")) throw new Error(`counter ${name} must end with _total`);
    this.#sample(this.#family(name, "counter", help), name, labels, value);
  }

  /** A gauge sample. */
  gauge(name: string, help: string, value: number, labels: MetricLabels = {}): void {
    this.#sample(this.#family(name, "gauge", help), name, labels, value);
  }

  /** A histogram series: `_bucket` lines (with `le="+Inf"`), `_sum` and `_count`. */
  histogram(name: string, help: string, figures: HistogramFigures, labels: MetricLabels = {}): void {
    if ("le" in labels) throw new Error(`histogram ${name} cannot take a label named le`);
    const family = this.#family(name, "histogram", help);
    figures.bounds.forEach((bound, i) =>
      this.#sample(
        family,
        `${name}_bucket`,
        { ...labels, le: formatValue(bound) },
        figures.cumulative[i] ?? 0,
      ),
    );
    this.#sample(family, `${name}_bucket`, { ...labels, le: "+Inf" }, figures.count);
    this.#sample(family, `${name}_sum`, labels, figures.sum);
    this.#sample(family, `${name}_count`, labels, figures.count);
  }

  /** True when a family of that name has been started (to add a family only once across several writers). */
  has(name: string): boolean {
    return this.#families.has(name);
  }

  /** The scrape's text: every family, in the order each was first added, ending with a newline. */
  text(): string {
    const parts: string[] = [];
    for (const [name, family] of this.#families) {
      parts.push(
        `# HELP ${name} ${escapeHelp(family.help)}`,
        `# TYPE ${name} ${family.type}`,
        ...family.lines,
      );
    }
    return parts.length === 0 ? "" : parts.join("\n") + "\n";
  }

  #family(name: string, type: MetricType, help: string): Family {
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}`);
    let family = this.#families.get(name);
    if (!family) {
      family = { type, help, lines: [], series: new Set() };
      this.#families.set(name, family);
    } else if (family.type !== type) {
      throw new Error(`metric ${name} is a ${family.type}, not a ${type}`);
    }
    return family;
  }

  #sample(family: Family, name: string, labels: MetricLabels, value: number): void {
    const pairs: string[] = [];
    for (const [label, text] of Object.entries(labels)) {
      if (!LABEL_NAME.test(label) || label.startsWith("__")) {
        throw new Error(`invalid label name ${JSON.stringify(label)} on ${name}`);
      }
      pairs.push(`${label}="${escapeLabelValue(text)}"`);
    }
    const series = pairs.length === 0 ? name : `${name}{${pairs.join(",")}}`;
    if (family.series.has(series)) throw new Error(`series ${series} given twice`);
    family.series.add(series);
    family.lines.push(`${series} ${formatValue(value)}`);
  }
}

/** A label value as the text format wants it: backslash, double quote and line feed escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** A HELP text as the text format wants it: backslash and line feed escaped. */
function escapeHelp(help: string): string {
  return help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A sample value: Go's float syntax, with `+Inf`, `-Inf` and `NaN`. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
