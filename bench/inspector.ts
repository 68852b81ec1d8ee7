import Database from "better-sqlite3";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import type { WorkflowExecutionSnapshot } from "../dist/persistence/index.js";
import { verdict } from "./measure.js";
import type { BenchSection } from "./report.js";
import { SqlitePersistenceProvider } from "../dist/persistence/sqlite.js";

// The `inspector` section of `npm run bench`: how long the inspector's page takes to list 10,000
// instances of a SQLite file, in headless Chromium, through the built CLI (`node dist/cli.js ui`).
// Timed from the navigation to the first page of rows on screen with the total counted, then a
// search (a keystroke to the filtered rows), then the JSON API alone for every instance at once;
// each against the floor measured in the same run: reading every record with the provider's own
// list(). Medians of 7 rounds after 2 warm-ups. Needs /usr/bin/chromium (or WORKFLOWFORGE_CHROMIUM).

const count = 10_000;
const rounds = 7;
const warmups = 2;
const root = fileURLToPath(new URL("../", import.meta.url));
const executablePath = process.env.WORKFLOWFORGE_CHROMIUM ?? "/usr/bin/chromium";

function snapshot(index: number): WorkflowExecutionSnapshot {
  const statuses = ["running", "failed", "compensating", "completed"] as const;
  const status = statuses[index % 4] as (typeof statuses)[number];
  const at = new Date(Date.UTC(2026, 0, 1) + index * 1_000).toISOString();
  return {
    formatVersion: 1,
    foundryExecutionId: `order-${index}`,
    workflowId: "orders-v1",
    workflowName: `ProcessOrder${index % 7}`,
    definitionFingerprint: "fnv1a:0123456789abcdef",
    operationCount: 6,
    nextOperationIndex: index % 6,
    properties: { orderId: `order-${index}`, total: index * 3, placedAt: new Date(at) },
    status,
    revision: 1,
    owner: `worker-${index % 5}`,
    leaseExpiresAt: at,
    attempts: index % 4,
    ...(status === "failed" ? { error: { name: "Error", message: `declined ${index}`, operationIndex: 2, operationName: "charge" } } : {}),
    createdAt: at,
    updatedAt: at,
  };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

// Every record read through the provider, as the inspector's listing does, timed alone.
async function readAll(file: string): Promise<number> {
  const database = new Database(file, { readonly: true });
  try {
    const provider = new SqlitePersistenceProvider({ database });
    const started = performance.now();
    const listed = await provider.list();
    const elapsed = performance.now() - started;
    if (listed.length !== count) throw new Error(`list() read ${listed.length} of ${count}`);
    return elapsed;
  } finally {
    database.close();
  }
}

export async function run(): Promise<BenchSection> {
  const title = `Inspector: the page listing ${count.toLocaleString("en-US")} instances (\`workflowforge ui\`, SQLite, headless Chromium)`;
  if (!existsSync(executablePath)) return { title, rows: [], notes: [`Not measured: no Chromium at ${executablePath} (apt-get install chromium, or set WORKFLOWFORGE_CHROMIUM).`] };
  const directory = mkdtempSync(join(tmpdir(), "workflowforge-bench-inspector-"));
  const file = join(directory, "app.db");
  const database = new Database(file);
  database.pragma("journal_mode = WAL");
  const provider = new SqlitePersistenceProvider({ database });
  await provider.migrate();
  for (let index = 0; index < count; index++) await provider.save(snapshot(index));
  database.close();

  const server = spawn(process.execPath, [join(root, "dist/cli.js"), "ui", "--sqlite", file, "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((found) => {
    let text = "";
    server.stdout.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      const match = /Open (http:\S+)/.exec(text);
      if (match !== null) found(match[1] as string);
    });
  });
  const browser = await chromium.launch({ executablePath });
  const loads: number[] = [];
  const searches: number[] = [];
  const apis: number[] = [];
  const reads: number[] = [];
  try {
    const page = await browser.newPage();
    for (let round = 0; round < warmups + rounds; round++) {
      await page.goto("about:blank");
      let started = performance.now();
      await page.goto(url);
      await page.waitForFunction((total) => {
        const { document } = globalThis as any;
        return document.querySelector("#total")?.textContent === total && document.querySelectorAll("#instances tbody tr").length === 100;
      }, `${count} instances`);
      const load = performance.now() - started;
      started = performance.now();
      await page.fill("input[type=search]", "declined 1");
      // Every row on screen is one the search matches: the filtered list has replaced the full one.
      await page.waitForFunction(() => {
        const cells = [...(globalThis as any).document.querySelectorAll("#instances tbody tr td:last-child")] as { textContent: string | null }[];
        return cells.length > 0 && cells.every((cell) => (cell.textContent ?? "").includes("declined 1"));
      });
      const search = performance.now() - started;
      started = performance.now();
      const listed = await page.evaluate(async (limit) => ((await (await fetch(`/api/instances?limit=${limit}`)).json()) as { items: unknown[] }).items.length, count);
      const api = performance.now() - started;
      if (listed !== count) throw new Error(`the API listed ${listed} of ${count}`);
      if (round >= warmups) {
        reads.push(await readAll(file));
        loads.push(load);
        searches.push(search);
        apis.push(api);
      }
    }
  } finally {
    await browser.close();
    server.kill("SIGTERM");
    await once(server, "exit");
    rmSync(directory, { recursive: true, force: true });
  }
  const floor = median(reads);
  const target = 3;
  const firstPage = median(loads) / floor;
  const row = (what: string, values: number[]) => ({ what, "median ms": Math.round(median(values)), "× reading every record with list()": (median(values) / floor).toFixed(2) });
  return {
    title,
    rows: [
      row("reading every record with the provider's list() (the floor)", reads),
      row("navigation to the first 100 rows, with the total counted", loads),
      row("a typed search to its filtered rows on screen", searches),
      row(`GET /api/instances with all ${count.toLocaleString("en-US")} rows (JSON)`, apis),
    ],
    notes: [
      `Target: the first 100 rows on screen, with all ${count.toLocaleString("en-US")} counted, within ${target}× of reading every record with list(): ${verdict(firstPage <= target)} (${firstPage.toFixed(2)}×).`,
      `Medians of ${rounds} rounds after ${warmups} warm-ups. Every request reads the whole store, as \`workflowforge list\` does; the page shows 100 rows at a time.`,
    ],
    against: "reading every record with the provider's own `list()`",
  };
}
