import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { settle } from "./support/collecting-framework.js";
import { startPostgres } from "./support/postgres-server.js";
import { startRedis } from "./support/redis-server.js";
import {
  claimPrefix,
  claimsIn,
  fileNameOf,
  jsFilesOf,
  repositoryRoot,
  runnable,
  runnableJs,
  samplesOf,
  serversFor,
  typeErrorsOf,
  writeSample,
  type Sample,
} from "./support/samples.js";
import type { ServerSkipped, ThrowawayServer } from "./support/throwaway-server.js";

// Every ```ts sample of every page under docs/ type-checks as written and runs against the sources,
// printing what it claims. A sample that imports a Redis or Postgres driver reads REDIS_URL or
// DATABASE_URL: it gets a throw-away server on 127.0.0.1, started once for the samples that need
// it, and skips (saying how to enable it) where the server is not installed. A ```js block is a
// file a user saves (`// name.mjs` on its first line): the files of a page are saved together
// and those whose first line says how (`node name.mjs`, `npx workflowforge …`) run with node on
// the built package, in order.

const docs = join(repositoryRoot, "docs");
const pages = readdirSync(docs, { recursive: true, encoding: "utf8" })
  .filter((path) => path.endsWith(".md"))
  .sort();
const markdownOf = (path: string): string => readFileSync(join(docs, path), "utf8");
const samples: Sample[] = pages.flatMap((path) => samplesOf(markdownOf(path), `docs/${path}`));
const jsFiles = pages.flatMap((path) => jsFilesOf(markdownOf(path), `docs/${path}`));
// Inside the repository, so that the drivers resolve from its node_modules; ignored by git and lint.
const workDir = join(repositoryRoot, ".scratch", "docs-samples");

// GitHub's anchors: headings lowercased, punctuation dropped, spaces turned into hyphens.
const headingAnchors = (markdown: string): Set<string> =>
  new Set(
    [...markdown.replace(/^```[\s\S]*?^```/gm, "").matchAll(/^#{1,6} (.+)$/gm)].map(([, heading = ""]) =>
      heading
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, "")
        .replace(/ /g, "-"),
    ),
  );

type Server = ThrowawayServer | ServerSkipped;
const servers = new Map<string, Promise<Server>>();
const server = (name: "redis" | "postgres"): Promise<Server> => {
  let started = servers.get(name);
  if (started === undefined) servers.set(name, (started = name === "redis" ? startRedis() : startPostgres()));
  return started;
};

function requireBuild(): void {
  for (const built of ["cli.js", "persistence/testing.js"]) {
    if (!existsSync(join(repositoryRoot, "dist", built))) throw new Error("dist/ is missing: run npm run build first (npm test builds before it runs vitest)");
  }
}

afterAll(async () => {
  for (const started of servers.values()) {
    const running = await started.catch(() => undefined);
    if (running !== undefined && !("skipped" in running)) await running.stop();
  }
  rmSync(workDir, { recursive: true, force: true });
});

describe("docs", () => {
  it("has pages with TypeScript samples", () => {
    expect(pages.length).toBeGreaterThanOrEqual(10);
    expect(samples.length).toBeGreaterThanOrEqual(20);
  });

  it("uses only fences the suite runs (ts, js) or that are not code (text, sh, sql)", () => {
    const fences = pages.flatMap((path) => [...markdownOf(path).matchAll(/^```(\S*)\n[\s\S]*?^```/gm)].map((match) => `docs/${path}: ${match[1] ?? ""}`));
    expect(fences.filter((fence) => !/: (ts|js|text|sh|sql)$/.test(fence))).toEqual([]);
  });

  it("names the file of every ```js block, and runs each file or imports it from one that runs", () => {
    const unnamed = jsFiles.filter((file) => file.name === "").map((file) => `${file.page}:${file.line}`);
    const unused = jsFiles.filter(
      (file) => file.command === undefined && !jsFiles.some((other) => other !== file && other.page === file.page && other.code.includes(`./${file.name}`)),
    );
    expect([...unnamed, ...unused.map((file) => `${file.page}:${file.line} ${file.name} is never run`)]).toEqual([]);
  });

  it("every relative link of a page points at a file that exists, and at a heading of it", () => {
    const broken: string[] = [];
    for (const path of pages) {
      const text = readFileSync(join(docs, path), "utf8").replace(/^```[\s\S]*?^```/gm, "");
      for (const [, target = ""] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue;
        const [file = "", anchor] = target.split("#");
        const resolved = file === "" ? join(docs, path) : join(docs, dirname(path), file);
        if (!existsSync(resolved)) broken.push(`docs/${path}: ${target} (no such file)`);
        else if (anchor !== undefined && resolved.endsWith(".md") && !headingAnchors(readFileSync(resolved, "utf8")).has(anchor)) broken.push(`docs/${path}: ${target} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("every page's samples type-check as written", () => {
    requireBuild();
    const files = new Map(samples.map((sample) => [join(workDir, "typed", fileNameOf(sample)), sample] as const));
    for (const [file, sample] of files) writeSample(file, sample.code);
    expect(typeErrorsOf(files)).toEqual([]);
  }, 120_000);

  it.for(samples.map((sample): [string, Sample] => [`${sample.page}:${sample.line}`, sample]))("%s runs and prints what it claims", { timeout: 60_000 }, async ([, sample], context) => {
    const needs = serversFor(sample.code);
    const env: Record<string, string> = {};
    for (const [name, variable] of [["redis", "REDIS_URL"], ["postgres", "DATABASE_URL"]] as const) {
      if (!needs[name]) continue;
      const started = await server(name);
      if ("skipped" in started) return context.skip(`skipped: ${started.skipped}`);
      env[variable] = started.url;
    }
    const file = join(workDir, "run", fileNameOf(sample));
    writeSample(file, runnable(sample.code));
    const checked: string[] = [];
    (globalThis as any).__expectPrinted = (value: unknown, expected: string) => {
      expect(JSON.stringify(value), `${sample.page}:${sample.line}`).toBe(expected);
      checked.push(expected);
    };
    for (const [variable, value] of Object.entries(env)) vi.stubEnv(variable, value);
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      await import(/* @vite-ignore */ file);
      if (sample.code.includes('from "vitest"')) expect((await settle()).length).toBeGreaterThan(10);
    } finally {
      log.mockRestore();
      vi.unstubAllEnvs();
    }
    expect(checked).toHaveLength(claimsIn(sample.code));
  });

  const jsPages = [...new Set(jsFiles.map((file) => file.page))];
  it.for(jsPages)("%s: its JavaScript files run with node on the built package and print what they claim", { timeout: 180_000 }, (page) => {
    requireBuild();
    // Inside the package, so that `import "workflowforge"` resolves to its own exports, as installed.
    const dir = join(workDir, "js", page.replace(/\.md$/, "").replace(/[^A-Za-z0-9]+/g, "-"));
    rmSync(dir, { recursive: true, force: true });
    const files = jsFiles.filter((file) => file.page === page);
    for (const file of files) writeSample(join(dir, file.name), runnableJs(file.code));
    for (const file of files) {
      if (file.command === undefined) continue;
      const [program, ...args] = file.command;
      const argv = program === "node" ? args : [join(repositoryRoot, "dist", "cli.js"), ...args.slice(1)];
      const child = spawnSync(process.execPath, argv, { cwd: dir, encoding: "utf8", timeout: 150_000 });
      const transcript = `${page}:${file.line} ${file.command.join(" ")}: exit ${String(child.status)}\n--- stdout\n${child.stdout}\n--- stderr\n${child.stderr}`;
      expect(child.status, transcript).toBe(0);
      const claims = child.stdout.split("\n").filter((line) => line.startsWith(claimPrefix));
      for (const line of claims) {
        const [actual, expected] = JSON.parse(line.slice(claimPrefix.length)) as [string, string];
        expect(actual, transcript).toBe(expected);
      }
      expect(claims, transcript).toHaveLength(claimsIn(file.code));
    }
  });
});
