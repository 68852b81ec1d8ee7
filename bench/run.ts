import { fork } from "node:child_process";
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

// Each bench runs in a process of its own, started from this file with the bench's name in this
// variable: a section's heap, compiled code and global instrumentation (OpenTelemetry registers
// global providers) would otherwise weigh on the sections after it.
const sectionVariable = "WORKFLOWFORGE_BENCH_SECTION";

/** In a bench's own process: runs it and sends its section to the parent. */
async function reportSection(name: string): Promise<void> {
  const bench = benches.find((candidate) => candidate.name === name);
  if (bench === undefined || process.send === undefined) throw new Error(`${sectionVariable}=${name}: not a bench, or not started by bench/run.ts`);
  const section = await (await bench.load()).run();
  // Exits once the section is sent, whatever a driver left open.
  process.send(section, () => process.exit(0));
}

/** Runs `bench` in a child process (fork passes on tsx's loader flags) and resolves with its section. */
function runInOwnProcess(bench: BenchFile): Promise<BenchSection> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, [sectionVariable]: bench.name }, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    let section: BenchSection | undefined;
    child.on("message", (message) => void (section = message as BenchSection));
    child.on("error", reject);
    child.on("exit", (code, signal) => (section === undefined ? reject(new Error(`bench ${bench.name} exited (${signal ?? `code ${code}`}) before reporting its section`)) : resolve(section)));
  });
}

interface CommandLine {
  /** The benches to run, in the order of the list. */
  readonly selected: readonly BenchFile[];
  readonly resultsFile: string | undefined;
  readonly readmeFile: string | undefined;
}

function commandLine(): CommandLine {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { results: { type: "string" }, readme: { type: "string" }, help: { type: "boolean" } } });
  if (values.help === true) {
    console.log(usage);
    process.exit(0);
  }
  const unknown = positionals.filter((name) => !benches.some((bench) => bench.name === name));
  if (unknown.length > 0) throw new Error(`unknown bench ${unknown.join(", ")}\n${usage}`);
  const everything = positionals.length === 0;
  const readmeFile = values.readme ?? (everything ? resolve(root, "README.md") : undefined);
  // Checked before a run that takes many minutes, not after it.
  if (readmeFile !== undefined) summarySpan(readFileSync(readmeFile, "utf8"), readmeFile);
  return {
    selected: benches.filter((bench) => everything || positionals.includes(bench.name)),
    resultsFile: values.results ?? (everything ? resolve(root, "bench/RESULTS.md") : undefined),
    readmeFile,
  };
}

function writeOutputs({ resultsFile, readmeFile }: CommandLine, results: readonly BenchResult[], env: BenchEnvironment): void {
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
}

async function main(): Promise<void> {
  const command = commandLine();
  const env: BenchEnvironment = {
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    cpu: cpus()[0]?.model.trim() ?? "unknown CPU",
    cores: cpus().length,
    date: new Date().toISOString().slice(0, 10),
  };
  console.log(`# workflowforge benchmarks\n\nNode ${env.node} on ${env.platform}, ${env.cpu} (${env.cores} cores)\n`);
  const results: BenchResult[] = [];
  for (const bench of command.selected) {
    const section = await runInOwnProcess(bench);
    results.push({ section, against: bench.against });
    console.log(`${formatSection(section)}\n`);
  }
  writeOutputs(command, results, env);
}

const childOf = process.env[sectionVariable];
if (childOf === undefined) await main();
else await reportSection(childOf);
