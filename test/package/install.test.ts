import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

// `npm install` in a clone is the first thing a contributor waits for. Each package it installs
// costs time once; a second copy of a native driver (better-sqlite3 compiles from source where no
// prebuilt binary can be downloaded) costs minutes. The oldest driver versions the compatibility
// suite needs are installed by CI only, through `npm run test:compat:install`.
const root = new URL("../../", import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), "utf8");

interface PackageJson {
  scripts: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}
const pkg = JSON.parse(read("package.json")) as PackageJson;
const installed = { ...pkg.dependencies, ...pkg.devDependencies };

describe("npm install", () => {
  it("installs no package twice: no dependency is an npm: alias of another package it installs", () => {
    const targetOf = (name: string, spec: string) => /^npm:((?:@[^/@]+\/)?[^@]+)@/.exec(spec)?.[1] ?? name;
    const targets = Object.entries(installed).map(([name, spec]) => targetOf(name, spec));
    const repeated = targets.filter((target, index) => targets.indexOf(target) !== index);
    expect(repeated, `installed twice by npm install: ${repeated.join(", ")}`).toEqual([]);
    expect(Object.keys(installed).filter((name) => name.startsWith("oldest-"))).toEqual([]);
  });

  it("leaves the oldest peer drivers to `npm run test:compat:install`, which CI runs after `npm ci` and before `npm test`", () => {
    expect(pkg.scripts["test:compat:install"]).toBe("node scripts/install-oldest-drivers.mjs");
    const steps = read(".ci/run")
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => /^npm (ci|run test:compat:install|test)\b/.test(line));
    expect(steps).toEqual(["npm ci", "npm run test:compat:install", "npm test"]);
    expect(read(".ci/run")).toMatch(/^export WORKFLOWFORGE_REQUIRE_COMPAT=1$/m);
  });

  it("keeps the lockfile free of the oldest-driver aliases", () => {
    const lock = JSON.parse(read("package-lock.json")) as { packages: Record<string, unknown> };
    expect(Object.keys(lock.packages).filter((path) => path.includes("node_modules/oldest-"))).toEqual([]);
  });
});
