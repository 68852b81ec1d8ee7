/** What a bench file's `run()` resolves with: one markdown table and optional notes under it. */
export interface BenchSection {
  title: string;
  rows: Array<Record<string, string | number>>;
  notes?: string[];
  /** The floor its targets are measured against, when the section names it itself: the summary's "measured against", over the bench list's. */
  against?: string;
}

/** A section and the baseline its targets are measured against, measured in the same run. */
export interface BenchResult {
  readonly section: BenchSection;
  readonly against: string;
}

/** Where and when the results were measured. */
export interface BenchEnvironment {
  readonly node: string;
  readonly platform: string;
  readonly cpu: string;
  readonly cores: number;
  /** YYYY-MM-DD. */
  readonly date: string;
}

const numberFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });

function cell(value: string | number | undefined): string {
  if (value === undefined) return "";
  return (typeof value === "number" ? numberFormat.format(value) : value).replaceAll("|", "\\|");
}

/**
 * A markdown table with one column per key seen in `rows` (in first-seen order). Columns that only
 * hold numbers are right-aligned. Cells are padded so the table also reads well in a terminal.
 */
export function markdownTable(rows: ReadonlyArray<Record<string, string | number>>): string {
  if (rows.length === 0) return "_no rows_";
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const numeric = columns.map((column) => rows.every((row) => typeof row[column] !== "string"));
  const body = rows.map((row) => columns.map((column) => cell(row[column])));
  const widths = columns.map((column, i) => Math.max(3, column.length, ...body.map((cells) => cells[i]?.length ?? 0)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((text, i) => (numeric[i] === true ? text.padStart(widths[i] ?? 0) : text.padEnd(widths[i] ?? 0))).join(" | ")} |`;
  const rule = `| ${widths.map((width, i) => (numeric[i] === true ? `${"-".repeat(width - 1)}:` : "-".repeat(width))).join(" | ")} |`;
  return [line(columns), rule, ...body.map(line)].join("\n");
}

/** A section as markdown: a heading, the table, then the notes as a list. */
export function formatSection(section: BenchSection): string {
  const parts = [`## ${section.title}`, markdownTable(section.rows)];
  if (section.notes !== undefined && section.notes.length > 0) parts.push(section.notes.map((note) => `- ${note}`).join("\n"));
  return parts.join("\n\n");
}

/** The anchor GitHub gives a heading: lowercase, punctuation dropped, spaces as dashes. */
export function anchorOf(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

const verdictWord = /\b(holds|MISSED)\b/;

/**
 * A target note ("Target (scope): what: verdict (value)[; more]") as a target and its result, or
 * undefined for any other note. The target ends at the last ": " before the first verdict, so a
 * colon inside the target's own wording stays in it; of the result, only the parts that carry a
 * verdict are kept (the rest is explanation, which the full results keep).
 */
export function parseTarget(note: string): { readonly target: string; readonly result: string } | undefined {
  const match = /^Target(?: \(([^)]*)\))?: (.*)$/.exec(note);
  if (match === null) return undefined;
  const [, scope, text = ""] = match;
  const verdictAt = text.search(verdictWord);
  const split = verdictAt < 0 ? -1 : text.lastIndexOf(": ", verdictAt);
  if (split < 0) return undefined;
  const result = text
    .slice(split + 2)
    .replace(/\.$/, "")
    .split("; ")
    .filter((part) => verdictWord.test(part))
    .join("; ");
  const target = text.slice(0, split);
  return { target: scope === undefined ? target : `${scope}: ${target}`, result };
}

/**
 * One row per section with targets, its targets and their results on lines of their own;
 * `link(title)` is where the section's full table is.
 */
export function summaryTable(results: readonly BenchResult[], link: (title: string) => string): string {
  const rows = results.flatMap(({ section, against }) => {
    const targets = (section.notes ?? []).map(parseTarget).filter((parsed) => parsed !== undefined);
    if (targets.length === 0) return [];
    const name = section.title.split(/[:(]/)[0]?.trim() ?? section.title;
    return [{
      benchmark: `[${name}](${link(section.title)})`,
      target: targets.map((parsed) => parsed.target).join("<br>"),
      "measured against": section.against ?? against,
      result: targets.map((parsed) => parsed.result).join("<br>"),
    }];
  });
  return markdownTable(rows);
}

export const describeEnvironment = (env: BenchEnvironment): string =>
  `Node ${env.node} on ${env.platform}, ${env.cpu} (${env.cores} cores), ${env.date}`;

/** The whole of bench/RESULTS.md. */
export function formatResults(results: readonly BenchResult[], env: BenchEnvironment): string {
  const intro = [
    "# workflowforge benchmarks",
    "<!-- Written by `npm run bench` (bench/run.ts): edits here are overwritten by the next run. -->",
    `Measured by \`npm run bench\`: ${describeEnvironment(env)}.`,
    [
      "Each table compares the library with a baseline measured in the same run, the two sides",
      "interleaved: read the ratios, not the times. The Postgres and Redis rows start throw-away servers",
      "on 127.0.0.1. On a shared machine a ratio can move by a tenth or more between runs (see the spread",
      "columns), and absolute times by half or more. A target marked MISSED was not met in that run;",
      "the table and notes under it show the baseline it was measured against.",
    ].join("\n"),
    "## Summary",
    summaryTable(results, (title) => `#${anchorOf(title)}`),
  ];
  return `${[...intro, ...results.map(({ section }) => formatSection(section))].join("\n\n")}\n`;
}

export const summaryStart = "<!-- bench:summary:start -->";
export const summaryEnd = "<!-- bench:summary:end -->";

/** What goes between the README's summary markers, linking into `resultsPath` (relative to the README). */
export function formatReadmeSummary(results: readonly BenchResult[], env: BenchEnvironment, resultsPath: string): string {
  const heading = `From one \`npm run bench\` (${describeEnvironment(env)}); every table, baseline and note is in [${resultsPath}](${resultsPath}).`;
  return [heading, summaryTable(results, (title) => `${resultsPath}#${anchorOf(title)}`)].join("\n\n");
}

/** The span between the summary markers of `text`, or an error naming `file` when they are not there once each, in order. */
export function summarySpan(text: string, file: string): { readonly from: number; readonly to: number } {
  const from = text.indexOf(summaryStart);
  const to = text.indexOf(summaryEnd);
  const once = from >= 0 && to > from && text.indexOf(summaryStart, from + 1) < 0 && text.indexOf(summaryEnd, to + 1) < 0;
  if (!once) throw new Error(`${file} must hold the lines ${summaryStart} and ${summaryEnd}, once each and in that order: the bench writes its summary between them`);
  return { from: from + summaryStart.length, to };
}

/** `text` with what stands between its summary markers replaced by `summary`. */
export function withSummary(text: string, summary: string, file: string): string {
  const { from, to } = summarySpan(text, file);
  return `${text.slice(0, from)}\n${summary}\n${text.slice(to)}`;
}
