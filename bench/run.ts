import { cpus } from "node:os";
import { formatSection, type BenchSection } from "./report.js";

interface BenchFile {
  readonly name: string;
  readonly load: () => Promise<{ readonly run: () => Promise<BenchSection> }>;
}

// Every bench file exports `async function run(): Promise<BenchSection>`; add new ones here.
// `npm run bench -- engine` runs only the named files.
const benches: readonly BenchFile[] = [
  { name: "engine", load: () => import("./engine.js") },
  { name: "persistence", load: () => import("./persistence.js") },
  { name: "codec", load: () => import("./codec.js") },
  { name: "file", load: () => import("./file.js") },
  { name: "sqlite", load: () => import("./sqlite.js") },
  { name: "postgres", load: () => import("./postgres.js") },
  { name: "redis", load: () => import("./redis.js") },
];

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !benches.some((bench) => bench.name === name));
if (unknown.length > 0) {
  throw new Error(`unknown bench ${unknown.join(", ")}; known: ${benches.map((bench) => bench.name).join(", ")}`);
}

console.log("# workflowforge benchmarks\n");
console.log(`Node ${process.version} on ${process.platform}/${process.arch}, ${cpus()[0]?.model ?? "unknown CPU"}\n`);
for (const bench of benches) {
  if (wanted.length > 0 && !wanted.includes(bench.name)) continue;
  const { run } = await bench.load();
  console.log(`${formatSection(await run())}\n`);
}
