import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// Tests the built package in dist/, the way users load it: child Node processes resolve
// "workflowforge/..." through package.json `exports` by self-reference from the repository root.
const root = fileURLToPath(new URL("../..", import.meta.url));
if (!existsSync(join(root, "dist", "index.js"))) {
  throw new Error("dist/ is missing: run npm run build first (npm test builds before it runs vitest)");
}

interface PackageJson {
  name: string;
  exports: Record<string, string | Record<string, { default: string }>>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as PackageJson;

// Names each entry point must export. An entry whose export key does not exist yet is skipped.
const expectedNames: Record<string, readonly string[]> = {
  ".": ["createFoundry", "createWorkflow", "createSmith", "WorkflowForgeError", "isWorkflowForgeError"],
  "./persistence": ["usePersistence", "MemoryPersistenceProvider", "PersistenceError"],
};
// Entries that must load nothing outside the package: no dependency, no node: built-in.
const selfContained = [".", "./persistence"];

const exportKeys = Object.keys(pkg.exports).filter((key) => key !== "./package.json");
const entries = [...new Set([...exportKeys, ...Object.keys(expectedNames)])].map((key) => {
  return { specifier: pkg.name + key.slice(1), names: expectedNames[key] ?? [], exists: exportKeys.includes(key) };
});
const formats = ["esm", "cjs"] as const;
type Format = (typeof formats)[number];

/** Runs `body` in a fresh Node process where `await load(specifier)` is `import()` or `require()`. */
function runInNode(format: Format, body: string): unknown {
  const load = format === "esm" ? "const load = (s) => import(s);" : "const load = async (s) => require(s);";
  const script = `${load}\n(async () => {\n${body}\n})().catch((error) => { console.error(error); process.exit(1); });`;
  const inputType = `--input-type=${format === "esm" ? "module" : "commonjs"}`;
  const child = spawnSync(process.execPath, [inputType, "-e", script], { cwd: root, encoding: "utf8" });
  if (child.status !== 0) throw new Error(`node (${format}) exited with ${String(child.status)}:\n${child.stderr}`);
  return JSON.parse(child.stdout);
}

/** The `typeof` of every named export of `specifier`, loaded once per format. */
const loaded = new Map<string, Record<string, string>>();
function exportTypes(format: Format, specifier: string): Record<string, string> {
  const body = `const m = await load(${JSON.stringify(specifier)});
console.log(JSON.stringify(Object.fromEntries(Object.keys(m).sort().map((k) => [k, typeof m[k]]))));`;
  const types = loaded.get(`${format} ${specifier}`) ?? (runInNode(format, body) as Record<string, string>);
  loaded.set(`${format} ${specifier}`, types);
  return types;
}

function targetFile(key: string, condition: "import" | "require"): string {
  const target = pkg.exports[key];
  const file = typeof target === "string" ? target : target?.[condition]?.default;
  if (file === undefined) throw new Error(`package.json exports["${key}"] has no ${condition}.default`);
  return join(root, file);
}

const importPatterns = [
  /\b(?:import|export)\s*(?:[\w$*{}\s,]*?\bfrom\s*)?["']([^"']+)["']/g,
  /\b(?:import|require)\s*\(\s*["']([^"']+)["']\s*\)/g,
];
function specifiersIn(code: string): string[] {
  return importPatterns.flatMap((pattern) => [...code.matchAll(pattern)].map((match) => match[1] ?? ""));
}

/** Follows relative imports from `entry` (a missing chunk throws ENOENT); collects every other specifier. */
function scanBundle(entry: string): { files: string[]; outside: string[] } {
  const files: string[] = [entry];
  const outside: string[] = [];
  for (const file of files) {
    for (const specifier of specifiersIn(readFileSync(file, "utf8"))) {
      const local = specifier.startsWith("./") || specifier.startsWith("../");
      const target = resolve(dirname(file), specifier);
      if (!local) outside.push(`${relative(root, file)} loads "${specifier}"`);
      else if (!files.includes(target)) files.push(target);
    }
  }
  return { files, outside };
}

function runBin(bin: string, args: readonly string[]): { status: number | null; output: string } {
  const env = { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" };
  const child = spawnSync(process.execPath, [join(root, "node_modules", ".bin", bin), ...args], { cwd: root, encoding: "utf8", env });
  return { status: child.status, output: `${child.stdout}\n${child.stderr}` };
}

describe("the built package", () => {
  for (const entry of entries) {
    for (const format of formats) {
      it.skipIf(!entry.exists)(`loads "${entry.specifier}" with ${format === "esm" ? "import" : "require"} and exports its public names`, () => {
        const types = exportTypes(format, entry.specifier);
        expect(Object.keys(types).length).toBeGreaterThan(0);
        for (const name of entry.names) expect(types[name], `${entry.specifier} (${format}) export ${name}`).toBe("function");
      });
    }
    it.skipIf(!entry.exists)(`exports the same names from "${entry.specifier}" in ESM and CJS`, () => {
      expect(exportTypes("cjs", entry.specifier)).toEqual(exportTypes("esm", entry.specifier));
    });
  }

  for (const format of formats) {
    it.skipIf(!exportKeys.includes("./persistence"))(`throws persistence errors that are instanceof the core's WorkflowForgeError (${format})`, () => {
      const result = runInNode(format, `
const { createFoundry, WorkflowForgeError } = await load("workflowforge");
const { usePersistence, PersistenceError } = await load("workflowforge/persistence");
const fail = () => { throw new Error("disk full"); };
const foundry = createFoundry("PackageCheck").withOperation("only", () => 1);
usePersistence(foundry, { save: fail, tryLoad: fail, delete: fail });
const error = await foundry.forge().then(() => undefined, (e) => e);
console.log(JSON.stringify({ error: String(error), isCoreError: error instanceof WorkflowForgeError,
  isPersistenceError: error instanceof PersistenceError, subclass: PersistenceError.prototype instanceof WorkflowForgeError }));`);
      expect(result).toMatchObject({ isCoreError: true, isPersistenceError: true, subclass: true });
    });
  }

  it.skipIf(!exportKeys.includes("./persistence"))("refuses at the call a foundry made by the other format's copy of the package, before anything runs", () => {
    const result = runInNode("esm", `
const { createFoundry } = await import("workflowforge");
const { usePersistence, MemoryPersistenceProvider } = (await import("node:module")).createRequire(process.cwd() + "/")("workflowforge/persistence");
const ran = [];
const foundry = createFoundry("Mixed").withOperation("charge", () => ran.push("charge"));
const error = (() => { try { usePersistence(foundry, new MemoryPersistenceProvider()); } catch (e) { return e; } })();
console.log(JSON.stringify({ name: error?.name, message: error?.message, ran }));`);
    expect(result).toEqual({ name: "TypeError", message: expect.stringContaining("usePersistence(foundry, provider, options): foundry was created by another copy of workflowforge"), ran: [] });
  });

  it.skipIf(!exportKeys.includes("./persistence"))("a smith and a coordinator given the other copy's foundry say so, and the coordinator spends no attempt on it", () => {
    const result = runInNode("esm", `
const { createSmith, createWorkflow } = await import("workflowforge");
const { createRecoveryCoordinator, MemoryPersistenceProvider } = await import("workflowforge/persistence");
const other = (await import("node:module")).createRequire(process.cwd() + "/")("workflowforge");
const ran = [];
const workflow = createWorkflow("Mixed").withOperation("charge", () => ran.push("charge")).build();
const smithError = await createSmith().forge(workflow, other.createFoundry("Mixed")).catch((e) => e);
const provider = new MemoryPersistenceProvider();
const coordinator = createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow, createFoundry: () => other.createFoundry("Mixed"), leaseTtlMs: 60000 });
await coordinator.enqueue(workflow, { instanceId: "order-1" });
const { failed: [outcome] } = await coordinator.resumeAll();
await coordinator.close();
const stored = await provider.tryLoad("order-1", workflow.id);
console.log(JSON.stringify({ smith: smithError?.message, error: outcome?.error?.message, attempts: stored?.attempts, ran }));`);
    expect(result).toEqual({
      smith: expect.stringContaining("smith.forge(workflow, foundry): foundry was created by another copy of workflowforge"),
      error: expect.stringContaining("what options.createFoundry(snapshot) returned was created by another copy of workflowforge"),
      attempts: 0,
      ran: [],
    });
  });

  it("finds import and require specifiers in bundled code", () => {
    expect(specifiersIn('import { a } from "node:fs";\nexport * from "./b.js";\nconst c = require("pg");')).toEqual(["node:fs", "./b.js", "pg"]);
  });

  for (const key of selfContained) {
    for (const condition of ["import", "require"] as const) {
      it.skipIf(!exportKeys.includes(key))(`loads nothing outside the package from exports["${key}"].${condition}`, () => {
        const { files, outside } = scanBundle(targetFile(key, condition));
        expect(files.length, "files scanned").toBeGreaterThan(0);
        expect(outside).toEqual([]);
      });
    }
  }

  it("declares no runtime dependencies and only optional peers", () => {
    expect(pkg.dependencies ?? {}).toEqual({});
    const requiredPeers = Object.keys(pkg.peerDependencies ?? {}).filter((name) => pkg.peerDependenciesMeta?.[name]?.optional !== true);
    expect(requiredPeers).toEqual([]);
  });

  it("passes publint --strict", () => {
    const { status, output } = runBin("publint", ["--strict"]);
    expect(status, output).toBe(0);
  });

  // The node16 profile skips TypeScript's legacy `node10` resolution, which ignores `exports` and so
  // can never resolve a subpath such as "workflowforge/persistence". node16 (ESM and CJS) and
  // bundler resolution are still checked for every entry point.
  // It packs the package and type-checks every entry point: 12 s on an idle 2-core machine, and
  // more than the default 20 s when the machine is busy, so it gets a limit of its own.
  it("has correct types for node16 (ESM and CJS) and bundler resolution (attw)", () => {
    const { status, output } = runBin("attw", ["--pack", ".", "--profile", "node16", "--format", "ascii", "--no-color"]);
    expect(status, output).toBe(0);
  }, 120_000);
});
