/** One section of a classic Fluent Bit config: its name (`SERVICE`, `INPUT`, `OUTPUT`) and its keys, lower-cased. */
export interface FluentBitSection {
  readonly name: string;
  readonly params: Map<string, string>;
}

/** Reads a classic (`[SECTION]` + `Key Value`) Fluent Bit config; comments and blank lines are skipped. */
export function parseFluentBitClassic(text: string): FluentBitSection[] {
  const sections: FluentBitSection[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[([A-Z]+)\]$/.exec(line);
    if (header) sections.push({ name: header[1] as string, params: new Map() });
    else {
      const [key, ...value] = line.split(/\s+/);
      sections.at(-1)?.params.set((key as string).toLowerCase(), value.join(" "));
    }
  }
  return sections;
}
