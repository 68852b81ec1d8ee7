import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it, vi } from "vitest";
import { settle } from "./support/collecting-framework.js";
import { startRedis } from "./support/redis-server.js";

// Every TypeScript sample in the README runs here, against the sources. A `console.log(x); // v`
// line also asserts that x prints as v (JSON), so the README's claimed outputs stay true.

const root = new URL("../", import.meta.url);
const readme = readFileSync(new URL("README.md", root), "utf8");
const samples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] as string);
const workDir = fileURLToPath(new URL("test/.readme-samples/", root));
const source = (path: string): string => fileURLToPath(new URL(`src/${path}`, root));

const importTargets: Record<string, string> = {
  "workflowforge": source("index.ts"),
  "workflowforge/persistence": source("persistence/index.ts"),
  "workflowforge/persistence/testing": source("persistence/testing/index.ts"),
  // A sample that registers the conformance suite runs it through a stand-in that runs cases at once.
  "vitest": fileURLToPath(new URL("test/support/collecting-framework.ts", root)),
};

function resolveImport(specifier: string): string {
  const provider = /^workflowforge\/persistence\/(file|sqlite|postgres|redis)$/.exec(specifier);
  if (provider) return source(`persistence/providers/${provider[1]}.ts`);
  return importTargets[specifier] ?? specifier;
}

function prepare(sample: string): string {
  return sample
    .replace(/from "([^"]+)"/g, (_, specifier: string) => `from ${JSON.stringify(resolveImport(specifier))}`)
    .replace(/^(\s*)console\.log\((.*)\);\s*\/\/\s*(.+?)(?::\s.*)?$/gm, (_, indent: string, expression: string, expected: string) => {
      return `${indent}(globalThis as any).__expectPrinted(${expression}, ${JSON.stringify(expected.trim())});`;
    });
}

// A sample that talks to Redis reads REDIS_URL: it gets a throw-away server of its own, and skips
// (saying how to enable it) where redis-server is not installed.
const needsRedis = (sample: string): boolean => sample.includes('from "ioredis"');
const redis = samples.some(needsRedis) ? await startRedis() : undefined;
if (redis !== undefined && "skipped" in redis) console.warn(`README Redis sample skipped: ${redis.skipped}`);
const skipReason = (sample: string): string | undefined => (needsRedis(sample) && redis !== undefined && "skipped" in redis ? redis.skipped : undefined);

afterAll(async () => {
  rmSync(workDir, { recursive: true, force: true });
  if (redis !== undefined && !("skipped" in redis)) await redis.stop();
});

describe("README", () => {
  it("has TypeScript samples", () => {
    expect(samples.length).toBeGreaterThanOrEqual(3);
  });

  it.for(samples.map((sample, index) => ({ index, sample, skipped: skipReason(sample) })))("sample $index runs and prints what it claims", async ({ index, sample, skipped }, context) => {
    if (skipped !== undefined) return context.skip(`skipped: ${skipped}`);
    if (redis !== undefined && !("skipped" in redis)) vi.stubEnv("REDIS_URL", redis.url);
    mkdirSync(workDir, { recursive: true });
    const file = `${workDir}sample-${index}.ts`;
    writeFileSync(file, prepare(sample));
    const checked: string[] = [];
    (globalThis as any).__expectPrinted = (value: unknown, expected: string) => {
      expect(JSON.stringify(value), `README sample ${index}`).toBe(expected);
      checked.push(expected);
    };
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      await import(/* @vite-ignore */ file);
      if (sample.includes('from "vitest"')) expect((await settle()).length).toBeGreaterThan(10);
    } finally {
      log.mockRestore();
      vi.unstubAllEnvs();
    }
    const claims = [...sample.matchAll(/console\.log\(.*\);\s*\/\/\s*\S/g)].length;
    expect(checked).toHaveLength(claims);
  });
});
