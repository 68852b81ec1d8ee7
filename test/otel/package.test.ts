import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The built workflowforge/otel: @opentelemetry/api stays an import (an optional peer the user
// installs), never bundled, and no other entry point loads it.

const dist = fileURLToPath(new URL("../../dist/", import.meta.url));
if (!existsSync(join(dist, "otel", "index.js"))) throw new Error("dist/ is missing: run npm run build first (npm test builds before it runs vitest)");

// The patterns of test/package/exports.test.ts: static imports and re-exports, require() and import().
const patterns = [/\b(?:import|export)\s*(?:[\w$*{}\s,]*?\bfrom\s*)?["']([^"']+)["']/g, /\b(?:import|require)\s*\(\s*["']([^"']+)["']\s*\)/g];
const specifiers = (code: string): string[] => patterns.flatMap((pattern) => [...code.matchAll(pattern)].map((match) => match[1] ?? ""));

/** Every module `entry` loads, following its relative imports through the shared chunks. */
function reach(entry: string): { readonly files: string[]; readonly outside: string[] } {
  const files = [entry];
  const outside: string[] = [];
  for (const file of files) {
    for (const specifier of specifiers(readFileSync(file, "utf8"))) {
      if (!specifier.startsWith(".")) outside.push(specifier);
      else if (!files.includes(resolve(dirname(file), specifier))) files.push(resolve(dirname(file), specifier));
    }
  }
  return { files, outside: [...new Set(outside)].sort() };
}

describe("the built workflowforge/otel", () => {
  it.for(["otel/index.js", "otel/index.cjs"])("%s loads @opentelemetry/api from outside the package, and nothing else", (file) => {
    const { files, outside } = reach(join(dist, file));
    expect(files.length).toBeGreaterThan(1);
    expect(outside).toEqual(["@opentelemetry/api"]);
    expect(files.map((path) => readFileSync(path, "utf8")).join("\n")).not.toMatch(/ProxyTracerProvider\s*=\s*class|class ProxyTracerProvider/);
  });

  it("is the only entry point that loads @opentelemetry/api", () => {
    const entries = readdirSync(dist, { recursive: true, encoding: "utf8" }).filter((path) => /\.(c?js)$/.test(path) && !path.startsWith("otel/") && !path.includes("chunk") && path !== "cli.js");
    expect(entries.length).toBeGreaterThan(5);
    const loading = entries.filter((path) => reach(join(dist, path)).outside.some((name) => name.startsWith("@opentelemetry/")));
    expect(loading).toEqual([]);
  });
});
