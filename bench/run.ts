import { readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { relative, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { formatReadmeSummary, formatResults, formatSection, summarySpan, withSummary, type BenchEnvironment, type BenchResult, type BenchSection } from "./report.js";

interface BenchFile {
  readonly name: string;
  /** The baseline its targets are measured against, in the same run: the summary's "measured against". */
  readonly against: string;
  readonly load: () => Promise<{ readonly run: () => Promise<BenchSection> }>;
}

// Every bench file exports `async function run(): Promise<BenchSection>`; add new ones here.
const benches: readonly BenchFile[] = [
  { name: "engine", against: "a bare loop awaiting the same functions", load: () => import("./engine.js") },
  { name: "persistence", against: "the same foundry without persistence", load: () => import("./persistence.js") },
  { name: "codec", against: "`JSON.stringify` + `JSON.parse` of the same object", load: () => import("./codec.js") },
  { name: "file", against: "the same bytes written to a temporary file renamed over the record", load: () => import("./file.js") },
  { name: "sqlite", against: "one prepared upsert of the same text", load: () => import("./sqlite.js") },
  { name: "postgres", against: "JSON.stringify + the provider's own SQL statement sent alone", load: () => import("./postgres.js") },
  { name: "redis", against: "one `SET` of the same text", load: () => import("./redis.js") },
  { name: "otel", against: "the same foundry without `instrument()`", load: () => import("./otel.js") },
  { name: "inspector", against: "reading every record with the provider's own `list()`", load: () => import("./inspector.js") },
  { name: "waits", against: "the poll interval; the pass and the heap with 100 instances", load: () => import("./waits.js") },
  { name: "scale-out", against: "the same worker processes writing one upsert (one `SET`) per step", load: () => import("./scale-out.js") },
];

const root = fileURLToPath(new URL("../", import.meta.url));
const usage = `usage: npm run bench [-- <name>... [--results <file>] [--readme <file>]]
  With no name every bench runs, and the full tables go to bench/RESULTS.md and a summary into
  README.md (between its bench:summary markers). Naming benches runs only those and writes nothing,
  unless --results or --readme says where. Known: ${benches.map((bench) => bench.name).join(", ")}.`;

const { values, positionals } = parseArgs({ allowPositionals: true, options: { results: { type: "string" }, readme: { type: "string" }, help: { type: "boolean" } } });
if (values.help === true) {
  console.log(usage);
  process.exit(0);
}
const unknown = positionals.filter((name) => !benches.some((bench) => bench.name === name));
if (unknown.length > 0) throw new Error(`unknown bench ${unknown.join(", ")}\n${usage}`);

const everything = positionals.length === 0;
const resultsFile = values.results ?? (everything ? resolve(root, "bench/RESULTS.md") : undefined);
const readmeFile = values.readme ?? (everything ? resolve(root, "README.md") : undefined);
// Checked before a run that takes many minutes, not after it.
if (readmeFile !== undefined) summarySpan(readFileSync(readmeFile, "utf8"), readmeFile);

const env: BenchEnvironment = {
  node: process.version,
  platform: `${process.platform}/${process.arch}`,
  cpu: cpus()[0]?.model.trim() ?? "unknown CPU",
  cores: cpus().length,
  date: new Date().toISOString().slice(0, 10),
};

console.log(`# workflowforge benchmarks\n\nNode ${env.node} on ${env.platform}, ${env.cpu} (${env.cores} cores)\n`);
const results: BenchResult[] = [];
for (const bench of benches) {
  if (!everything && !positionals.includes(bench.name)) continue;
  const { run } = await bench.load();
  const section = await run();
  results.push({ section, against: bench.against });
  console.log(`${formatSection(section)}\n`);
}

if (resultsFile !== undefined) {
  writeFileSync(resultsFile, formatResults(results, env));
  console.log(`Wrote ${relative(process.cwd(), resultsFile)}.`);
}
if (readmeFile !== undefined) {
  // The README links the results by a path relative to itself; without a results file, to the committed one.
  const linked = relative(dirname(readmeFile), resultsFile ?? resolve(root, "bench/RESULTS.md")).replaceAll("\\", "/");
  writeFileSync(readmeFile, withSummary(readFileSync(readmeFile, "utf8"), formatReadmeSummary(results, env, linked), readmeFile));
  console.log(`Wrote the benchmark summary into ${relative(process.cwd(), readmeFile)}.`);
}
if (resultsFile === undefined && readmeFile === undefined) console.log("Only some benches ran: bench/RESULTS.md and README.md are left as they are.");
