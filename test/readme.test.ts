import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { anchorOf, summarySpan } from "../bench/report.js";
import { claimPrefix, claimsIn, repositoryRoot as root, runnable, runnableJs, samplesOf, serversFor, typeErrorsOf, writeSample } from "./support/samples.js";

// The README is the contract a new user reads first. Every ```ts sample type-checks and runs
// against the sources; every ```js sample runs with node on the built package, as a user saves and
// runs it; the quickstart (the first code block) runs twice in an empty directory and prints what
// the README shows. A `console.log(x); // v` line also asserts that x prints as v (JSON).

const readme = readFileSync(join(root, "README.md"), "utf8");
const tsSamples = samplesOf(readme, "README.md");
const jsBlocks = [...readme.matchAll(/^```js\n([\s\S]*?)^```/gm)].map((match) => match[1] as string);
const [quickstart = "", ...jsSamples] = jsBlocks;
const workDir = join(root, ".scratch", "readme-samples");
const scratch = mkdtempSync(join(tmpdir(), "workflowforge-readme-"));
afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

function requireBuild(): void {
  if (!existsSync(join(root, "dist", "cli.js"))) throw new Error("dist/ is missing: run npm run build first (npm test builds before it runs vitest)");
}

const transcript = (child: SpawnSyncReturns<string>): string =>
  `exit ${String(child.status)}${child.error === undefined ? "" : ` (${child.error.message})`}\n--- stdout\n${child.stdout}\n--- stderr\n${child.stderr}`;
const node = (args: readonly string[], cwd: string): SpawnSyncReturns<string> => spawnSync(process.execPath, args, { cwd, encoding: "utf8", timeout: 30_000 });

describe("README", () => {
  it("is short enough to read: under 380 lines", () => {
    expect(readme.split("\n").length).toBeLessThan(380);
  });

  it("opens with the quickstart: its first code block is the ```js file a user saves as quickstart.mjs", () => {
    expect(/^```(\w*)/m.exec(readme)?.[1]).toBe("js");
    expect(quickstart.startsWith("// quickstart.mjs\n")).toBe(true);
  });

  it("has only fences the suite runs (ts, js) or that are not code (text, sh, mermaid)", () => {
    const languages = new Set([...readme.matchAll(/^```(\S*)\n[\s\S]*?^```/gm)].map((match) => match[1]));
    expect([...languages].filter((language) => !["ts", "js", "text", "sh", "mermaid"].includes(language ?? ""))).toEqual([]);
    expect(tsSamples.length).toBeGreaterThanOrEqual(3);
    expect(jsSamples.length).toBeGreaterThanOrEqual(1);
  });

  it("needs no server for any sample: those belong in docs/, whose suite starts servers", () => {
    expect(tsSamples.filter((sample) => Object.values(serversFor(sample.code)).some(Boolean)).map((sample) => sample.line)).toEqual([]);
  });

  it("TypeScript samples type-check as written", () => {
    requireBuild();
    const files = new Map(tsSamples.map((sample) => [join(workDir, "typed", `line-${sample.line}.ts`), sample] as const));
    for (const [file, sample] of files) writeSample(file, sample.code);
    expect(typeErrorsOf(files)).toEqual([]);
  }, 120_000);

  it.for(tsSamples)("the TypeScript sample at line $line runs and prints what it claims", async (sample) => {
    const file = join(workDir, "run", `line-${sample.line}.ts`);
    writeSample(file, runnable(sample.code));
    const checked: string[] = [];
    (globalThis as any).__expectPrinted = (value: unknown, expected: string) => {
      expect(JSON.stringify(value), `README.md:${sample.line}`).toBe(expected);
      checked.push(expected);
    };
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      await import(/* @vite-ignore */ file);
    } finally {
      log.mockRestore();
    }
    expect(checked).toHaveLength(claimsIn(sample.code));
  });

  const jsNamed = jsSamples.map((code, index) => ({ code, index, name: /^\/\/ (\S+\.mjs)/.exec(code)?.[1] ?? `number ${index + 2}` }));
  it.for(jsNamed)("the JavaScript sample $name runs with node on the built package and prints what it claims", ({ code, index }) => {
    requireBuild();
    // Inside the package, so that `import "workflowforge"` resolves to its own exports, as installed.
    const file = join(workDir, `sample-${index}.mjs`);
    writeSample(file, runnableJs(code));
    const child = node([file], workDir);
    expect(child.status, transcript(child)).toBe(0);
    const claims = child.stdout.split("\n").filter((line) => line.startsWith(claimPrefix));
    for (const line of claims) {
      const [actual, expected] = JSON.parse(line.slice(claimPrefix.length)) as [string, string];
      expect(actual, `README js sample ${index}`).toBe(expected);
    }
    expect(claims).toHaveLength(claimsIn(code));
  });
});

describe("the README's quickstart", () => {
  /** The ```text block after the quickstart: each `$ command` with the lines it prints. */
  function transcriptShown(): { command: string; lines: string[] }[] {
    const text = /^```text\n([\s\S]*?)^```/m.exec(readme.slice(readme.indexOf(quickstart)))?.[1] ?? "";
    const steps: { command: string; lines: string[] }[] = [];
    for (const line of text.trimEnd().split("\n")) {
      if (line.startsWith("$ ")) steps.push({ command: line.slice(2), lines: [] });
      else steps.at(-1)?.lines.push(line);
    }
    return steps;
  }

  it("crashes in step 2, is listed as running 1/3, resumes, and prints exactly what the README shows", () => {
    requireBuild();
    const steps = transcriptShown();
    expect(steps.map((step) => step.command)).toEqual(["node quickstart.mjs", "npx workflowforge list --dir ./workflow-state", "node quickstart.mjs"]);
    const [first, list, second] = steps as [(typeof steps)[number], (typeof steps)[number], (typeof steps)[number]];
    // An empty project with the package installed, as npm links it.
    const app = mkdtempSync(join(scratch, "app-"));
    mkdirSync(join(app, "node_modules"));
    symlinkSync(root, join(app, "node_modules", "workflowforge"), "dir");
    writeFileSync(join(app, "quickstart.mjs"), quickstart);
    const cli = (...args: string[]): SpawnSyncReturns<string> => node([join(app, "node_modules", "workflowforge", "dist", "cli.js"), ...args], app);

    const crashed = node(["quickstart.mjs"], app);
    expect(crashed.status, transcript(crashed)).toBe(1);
    expect(crashed.stdout).toBe(`${first.lines.join("\n")}\n`);
    expect(crashed.stdout).toMatch(/^step 1: /);
    expect(first.lines.at(-1)).toMatch(/crash/);

    const listed = cli(...list.command.split(" ").slice(2));
    expect(listed.status, transcript(listed)).toBe(0);
    expect(listed.stderr, "the quickstart leaves nothing in the store's directory but its record").toBe("");
    const shown = listed.stdout.split("\n");
    // Each line shown is a whole line printed, its age aside: a prefix would let the README drop columns.
    const printedAs = (line: string) => new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\d+[smhd] ago/g, "\\d+[smhd] ago")}$`);
    for (const line of list.lines) expect(shown.some((printed) => printedAs(line).test(printed)), `list prints the line ${JSON.stringify(line)}\n${transcript(listed)}`).toBe(true);
    const records = JSON.parse(cli("list", "--dir", "./workflow-state", "--json").stdout);
    expect(records.map((record: any) => [record.instance, record.status, record.nextOperationIndex, record.operationCount])).toEqual([["order-42", "running", 1, 3]]);

    const resumed = node(["quickstart.mjs"], app);
    expect(resumed.status, transcript(resumed)).toBe(0);
    expect(resumed.stderr).toBe("");
    expect(resumed.stdout).toBe(`${second.lines.join("\n")}\n`);
    expect(second.lines[0]).toMatch(/^step 1: resumed/);
    expect(JSON.parse(cli("list", "--dir", "./workflow-state", "--json").stdout)).toEqual([]);
  }, 60_000);
});

describe("the README's links", () => {
  const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1] as string).filter((target) => !/^[a-z]+:/.test(target));
  const headings = (markdown: string): string[] => [...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((match) => anchorOf(match[1] as string));

  it("point at files and headings that exist", () => {
    const broken = links.filter((link) => {
      const [path = "", anchor] = link.split("#");
      const file = path === "" ? join(root, "README.md") : join(root, path);
      if (!existsSync(file)) return true;
      return anchor !== undefined && !headings(readFileSync(file, "utf8")).includes(anchor);
    });
    expect(broken).toEqual([]);
  });

  it("reach every page under docs/", () => {
    const pages = existsSync(join(root, "docs")) ? readdirSync(join(root, "docs"), { recursive: true, encoding: "utf8" }).filter((path) => path.endsWith(".md")) : [];
    const linked = new Set(links.map((link) => link.split("#")[0]));
    expect(pages.map((page) => `docs/${page.replaceAll("\\", "/")}`).filter((page) => !linked.has(page))).toEqual([]);
    for (const page of ["CONTRIBUTING.md", "bench/RESULTS.md", "docs/writing-a-provider.md", "docs/many-workers.md", "docs/providers/file.md"]) expect(linked).toContain(page);
  });
});

describe("the README's benchmark summary", () => {
  const results = readFileSync(join(root, "bench", "RESULTS.md"), "utf8");
  const { from, to } = summarySpan(readme, "README.md");
  const summary = readme.slice(from, to);
  /** A markdown table's rows as trimmed cells, links made relative to the repository's root. */
  const cells = (table: string, linkBase: string): string[][] =>
    table
      .split("\n")
      .filter((line) => line.startsWith("|") && !/^[|\s:-]+$/.test(line))
      .map((line) => line.slice(1, -1).split(/(?<!\\)\|/).map((cell) => cell.trim().replaceAll("](#", `](${linkBase}#`)));

  it("is the summary table of bench/RESULTS.md, from the same run", () => {
    const resultsSummary = /^## Summary\n([\s\S]*?)\n## /m.exec(results)?.[1] ?? "";
    expect(cells(summary, "")).toEqual(cells(resultsSummary, "bench/RESULTS.md"));
    expect(cells(summary, "").length).toBeGreaterThan(2);
    const measured = /^Measured by `npm run bench`: (.+)\.$/m.exec(results)?.[1];
    expect(measured).toBeDefined();
    expect(summary).toContain(`(${measured ?? ""})`);
  });

  it("links only to headings of bench/RESULTS.md, which links only to its own", () => {
    const headings = [...results.matchAll(/^## (.+)$/gm)].map((match) => anchorOf(match[1] as string));
    const anchors = [...`${summary}\n${results}`.matchAll(/\]\((?:bench\/RESULTS\.md)?#([^)]+)\)/g)].map((match) => match[1] as string);
    expect(anchors.length).toBeGreaterThan(2);
    expect(anchors.filter((anchor) => !headings.includes(anchor))).toEqual([]);
  });

  it("names, for every benchmark, its target, what it is measured against and the result", () => {
    const [header, ...rows] = cells(summary, "");
    expect(header).toEqual(["benchmark", "target", "measured against", "result"]);
    for (const row of rows) expect(row.every((cell) => cell !== "")).toBe(true);
  });
});
