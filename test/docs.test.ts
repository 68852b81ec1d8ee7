import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { settle } from "./support/collecting-framework.js";
import { startPostgres } from "./support/postgres-server.js";
import { startRedis } from "./support/redis-server.js";
import { claimsIn, fileNameOf, repositoryRoot, runnable, samplesOf, serversFor, typeErrorsOf, writeSample, type Sample } from "./support/samples.js";
import type { ServerSkipped, ThrowawayServer } from "./support/throwaway-server.js";

// Every ```ts sample of every page under docs/ type-checks as written and runs against the sources,
// printing what it claims. A sample that imports a Redis or Postgres driver reads REDIS_URL or
// DATABASE_URL: it gets a throw-away server on 127.0.0.1, started once for the samples that need
// it, and skips (saying how to enable it) where the server is not installed.

const docs = join(repositoryRoot, "docs");
const pages = readdirSync(docs, { recursive: true, encoding: "utf8" })
  .filter((path) => path.endsWith(".md"))
  .sort();
const samples: Sample[] = pages.flatMap((path) => samplesOf(readFileSync(join(docs, path), "utf8"), `docs/${path}`));
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
});
