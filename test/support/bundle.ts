import { buildSync } from "esbuild";
import { mkdirSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

// Inside the project, so that external drivers resolve from its node_modules.
const cache = fileURLToPath(new URL("../../node_modules/.cache/workflowforge-test/", import.meta.url));

/**
 * Bundles a TypeScript entry (and the sources it imports) into one ESM file, once, so tests can
 * spawn it many times with plain `node`: a child started through a TypeScript loader costs ~0.7 s.
 * Drivers stay external and resolve from the project's node_modules.
 */
export function bundleForChild(entry: string): string {
  mkdirSync(cache, { recursive: true });
  const outfile = join(mkdtempSync(cache), "child.mjs");
  buildSync({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    logLevel: "silent",
  });
  return outfile;
}
