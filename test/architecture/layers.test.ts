import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The layers of ARCHITECTURE.md, checked on every relative import in src/: a change that crosses
// one fails here, so a new dependency between layers is a decision, not an accident.

const src = fileURLToPath(new URL("../../src/", import.meta.url));

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** Every file's relative imports (and re-exports), as paths under src/ without the extension. */
const edges = sourceFiles(src).map((file) => {
  const text = readFileSync(file, "utf8");
  const targets = [...text.matchAll(/(?:import|export)[^;]*?from\s+"(\.[^"]+)"|import\s+"(\.[^"]+)"/g)].map((match) =>
    relative(src, resolve(dirname(file), (match[1] ?? match[2]) as string)).replace(/\.js$/, ""),
  );
  const packages = [...text.matchAll(/(?:import|export)[^;]*?from\s+"([^".][^"]*)"|import\s+"([^".][^"]*)"/g)].map((match) => (match[1] ?? match[2]) as string);
  return { from: relative(src, file).replace(/\.ts$/, ""), targets, packages };
});

const inPersistence = (path: string): boolean => path.startsWith("persistence/");
// The inspector (`workflowforge ui`) is part of the CLI's layer: the same program, on top of persistence.
const inCli = (path: string): boolean => path.startsWith("cli/") || path.startsWith("inspector/");
const inOtel = (path: string): boolean => path.startsWith("otel/");
const isProvider = (path: string): boolean => path.startsWith("persistence/providers/");
// Provider modules every provider may use; each other file under providers/ belongs to one provider:
// the provider of its folder (file/lock belongs to file), else of its name (sqlite-sql to sqlite).
const sharedProviderModules = new Set(["shared", "sql-query", "stored", "stored-keys", "connection-errors", "group-commit", "key-order"]);
const providerOf = (path: string): string | undefined => {
  if (!isProvider(path)) return undefined;
  const name = path.slice("persistence/providers/".length);
  return sharedProviderModules.has(name) ? undefined : name.split(/[-/]/)[0];
};

function crossings(rule: (from: string, to: string) => boolean): string[] {
  return edges.flatMap(({ from, targets }) => targets.filter((to) => rule(from, to)).map((to) => `${from} -> ${to}`));
}

describe("the layers of src/", () => {
  it("reads the imports it checks", () => {
    expect(edges.length).toBeGreaterThan(50);
    expect(edges.find((edge) => edge.from === "persistence/session")?.targets).toContain("persistence/resume");
  });

  it("keeps the engine free of persistence and of the CLI", () => {
    const engine = (path: string): boolean => !inPersistence(path) && !inCli(path) && !inOtel(path);
    expect(crossings((from, to) => engine(from) && (inPersistence(to) || inCli(to)))).toEqual([]);
  });

  it("imports @opentelemetry/* only in otel/, and nothing imports otel/ (the core stays dependency-free)", () => {
    const opentelemetry = edges.flatMap(({ from, packages }) => packages.filter((name) => name.startsWith("@opentelemetry/")).map((name) => `${from} -> ${name}`));
    expect(opentelemetry.length).toBeGreaterThan(0);
    expect(opentelemetry.filter((edge) => !inOtel(edge))).toEqual([]);
    expect(crossings((from, to) => !inOtel(from) && inOtel(to))).toEqual([]);
  });

  it("keeps otel/ on the engine's side of persistence, away from the CLI and from providers", () => {
    expect(crossings((from, to) => inOtel(from) && (inCli(to) || isProvider(to)))).toEqual([]);
  });

  it("keeps persistence free of the CLI", () => {
    expect(crossings((from, to) => inPersistence(from) && inCli(to))).toEqual([]);
  });

  it("reaches a provider from persistence only through its entry point (the memory provider, which it ships)", () => {
    const allowed = new Set(["persistence/index -> persistence/providers/memory"]);
    expect(crossings((from, to) => !isProvider(from) && inPersistence(from) && isProvider(to) && !from.startsWith("persistence/testing/")).filter((edge) => !allowed.has(edge))).toEqual([]);
  });

  it("never lets one provider import another", () => {
    expect(crossings((from, to) => providerOf(from) !== undefined && providerOf(to) !== undefined && providerOf(from) !== providerOf(to))).toEqual([]);
  });

  it("keeps the file provider in its own folder, entered through file/index", () => {
    const files = edges.map((edge) => edge.from).filter((path) => providerOf(path) === "file");
    expect(files).toContain("persistence/providers/file/provider");
    expect(files.filter((path) => !path.startsWith("persistence/providers/file/"))).toEqual([]);
  });
});
