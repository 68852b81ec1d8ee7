// --provider: the user's own store, through a module of theirs that exports `createProvider()`.
// Whatever the module does (load, create, answer, close) is bounded by --timeout like any store.

import { statSync } from "node:fs";
import { createRequire } from "node:module";
import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { messageOf } from "../errors.js";
import type { WorkflowPersistenceProvider } from "../persistence/provider.js";
import { callProvider, loadSnapshot } from "../persistence/provider-call.js";
import { listSnapshots } from "../persistence/recovery/list.js";
import { within } from "./deadline.js";
import type { Duration } from "./duration.js";
import { CliError } from "./errors.js";
import { parseValue } from "./store-parts.js";
import type { InspectedProvider, OpenedStore } from "./stores.js";

/** What a --provider module exports. */
interface ProviderModule {
  createProvider(): unknown;
  closeProvider?(provider: unknown): unknown;
}

// A path as typed on a command line; anything else is a package name, as `import` would read it.
const isPath = (specifier: string): boolean => specifier.startsWith(".") || isAbsolute(specifier) || specifier.startsWith("file:");
const isFile = (path: string): boolean => statSync(path, { throwIfNoEntry: false })?.isFile() === true;

/** The module's file: a path against `cwd`, or a package resolved from `cwd` as the user's own code would. */
function resolveModule(specifier: string, cwd: string): string {
  if (isPath(specifier)) {
    const path = specifier.startsWith("file:") ? parseValue("--provider", specifier, () => fileURLToPath(specifier)) : resolve(cwd, specifier);
    if (!isFile(path)) throw new CliError("STORE", `--provider ${specifier}: ${path} does not exist or is not a file`);
    return path;
  }
  try {
    return createRequire(join(cwd, "noop.js")).resolve(specifier);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const local = isFile(resolve(cwd, specifier)) ? `; for the file in this directory, pass ./${specifier}` : "";
    if (code === "MODULE_NOT_FOUND") {
      throw new CliError("STORE", `--provider ${specifier}: no such package is installed for ${cwd} (a path starts with ./ or /)${local}`, { cause: error });
    }
    // ERR_PACKAGE_PATH_NOT_EXPORTED: a package that exports it for import only, which a
    // resolution from another directory cannot ask for (Node.js 20 has no import.meta.resolve(x, parent)).
    throw new CliError("STORE", `--provider ${specifier}: cannot resolve it from ${cwd}: ${messageOf(error)}; pass the path of its file instead${local}`, { cause: error });
  }
}

async function importModule(specifier: string, path: string): Promise<ProviderModule> {
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    throw new CliError("STORE", `--provider ${specifier}: the module ${path} failed to load: ${messageOf(error)}`, { cause: error });
  }
  // A CommonJS module's exports may arrive only as the default export.
  const fallback = loaded.default;
  const exports = typeof loaded.createProvider === "function" || typeof fallback !== "object" || fallback === null ? loaded : (fallback as Record<string, unknown>);
  if (typeof exports.createProvider !== "function") {
    const names = Object.keys(exports).filter((name) => name !== "default" && name !== "__esModule");
    const found = names.length === 0 ? "it exports nothing" : `it exports ${names.join(", ")}`;
    throw new CliError("STORE", `--provider ${specifier}: the module ${path} has no createProvider export (export function createProvider() { return yourProvider; }); ${found}`);
  }
  if (exports.closeProvider !== undefined && typeof exports.closeProvider !== "function") {
    throw new CliError("STORE", `--provider ${specifier}: the module's closeProvider export is not a function`);
  }
  return exports as unknown as ProviderModule;
}

function requireProvider(value: unknown, specifier: string): WorkflowPersistenceProvider {
  const provider = value as Partial<WorkflowPersistenceProvider> | null;
  const missing = ["tryLoad", "delete"].filter((method) => typeof (provider as Record<string, unknown> | null)?.[method] !== "function");
  if (typeof provider !== "object" || provider === null || missing.length > 0) {
    const got = typeof provider !== "object" || provider === null ? String(provider) : `an object without ${missing.join(" and ")}()`;
    throw new CliError("STORE", `--provider ${specifier}: createProvider() must return a provider (with tryLoad() and delete(), and list() for list and prune), got ${got}`);
  }
  return provider as WorkflowPersistenceProvider;
}

/** Loads the module and calls its `createProvider()`, all within `timeout`. */
export async function openProviderModule(specifier: string, timeout: Duration, cwd: string = process.cwd()): Promise<OpenedStore> {
  const path = resolveModule(specifier, cwd);
  const late = () => `--provider ${specifier}: loading the module and createProvider() did not finish within ${timeout.text}; check that the store it connects to answers, or raise --timeout`;
  const { module, provider } = await within(timeout, late, async (signal) => {
    const module = await importModule(specifier, path);
    let created: unknown;
    try {
      created = await module.createProvider();
    } catch (error) {
      throw new CliError("STORE", `--provider ${specifier}: createProvider() failed: ${messageOf(error)}`, { cause: error });
    }
    const provider = requireProvider(created, specifier);
    // Created after the deadline: no one will use it, and its connection must not keep the process alive.
    if (signal.aborted) await new Promise((closed) => closed(module.closeProvider?.(provider))).catch(() => undefined);
    return { module, provider };
  });
  const name = (provider as object).constructor?.name;
  const label = `${name === undefined || name === "Object" ? "provider" : name} from ${path}`;
  return {
    provider: inspected(provider, label),
    persistence: provider,
    label,
    close: async () => void (await module.closeProvider?.(provider)),
    whenLate: "check that the store behind the provider answers",
  };
}

const declaresList = (provider: WorkflowPersistenceProvider): boolean => provider.capabilities?.list === true && typeof provider.list === "function";

// The library's own calls: a foreign failure becomes a PersistenceError naming the call, a load
// is checked for shape, and so is every listed snapshot (a bad one is reported as unreadable).
function inspected(provider: WorkflowPersistenceProvider, label: string): InspectedProvider {
  return {
    capabilities: provider.capabilities,
    async list(filter, signal, options) {
      if (!declaresList(provider)) {
        throw new CliError("STORE", `${label} does not declare list (capabilities: { list: true } and a list() method), which list and prune need; show and delete work without it`);
      }
      // Each entry checked for shape there: a bad one is reported as unreadable.
      return listSnapshots(provider, filter, signal, options);
    },
    tryLoad: (foundryExecutionId, workflowId, signal) => loadSnapshot(provider, { foundryExecutionId, workflowId }, signal),
    delete: (foundryExecutionId, workflowId, signal) => callProvider({ call: "delete", keys: { foundryExecutionId, workflowId } }, () => provider.delete(foundryExecutionId, workflowId, signal)),
    save: (snapshot, signal) => callProvider({ call: "save", keys: { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId } }, () => provider.save(snapshot, signal)),
  };
}
