/** What a bench file's `run()` resolves with: one markdown table and optional notes under it. */
export interface BenchSection {
  title: string;
  rows: Array<Record<string, string | number>>;
  notes?: string[];
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
