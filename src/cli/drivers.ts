import { CliError } from "./errors.js";

// The drivers are optional peers: each is imported only when its store is asked for, so that
// `--dir` works with none installed. The import() calls are literal so that their types flow
// and the bundler keeps them as external imports.
const importers = {
  pg: () => import("pg"),
  "better-sqlite3": () => import("better-sqlite3"),
  ioredis: () => import("ioredis"),
  redis: () => import("redis"),
};

/** An optional driver package the CLI can load. */
export type DriverName = keyof typeof importers;
export type DriverModule<N extends DriverName> = Awaited<ReturnType<(typeof importers)[N]>>;

/** True when loading `name` failed because the package itself is not installed (not one of its own imports). */
export function isMissingPackage(error: unknown, name: string): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") return false;
  // ESM: "Cannot find package 'pg' imported from ..."; CJS: "Cannot find module 'pg'".
  return typeof message === "string" && (message.includes(`package '${name}'`) || message.includes(`module '${name}'`));
}

/**
 * Imports a driver, or undefined when it is not installed. A driver that is installed but fails
 * to load (a broken native build, a missing dependency of its own) throws a CliError saying so.
 */
export async function tryImportDriver<N extends DriverName>(name: N): Promise<DriverModule<N> | undefined> {
  try {
    return (await importers[name]()) as DriverModule<N>;
  } catch (error) {
    if (isMissingPackage(error, name)) return undefined;
    throw new CliError("MISSING_DRIVER", `the "${name}" package is installed but failed to load: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/** Imports a driver, or throws a CliError saying which package to install for which flag. */
export async function importDriver<N extends DriverName>(name: N, flag: string): Promise<DriverModule<N>> {
  const driver = await tryImportDriver(name);
  if (driver === undefined) throw missingDriver(flag, [name]);
  return driver;
}

/** The error for a store flag whose driver is not installed; with several names, any one of them will do. */
export function missingDriver(flag: string, names: readonly DriverName[]): CliError {
  const packages = names.map((name) => `"${name}"`).join(" or ");
  const commands = names.map((name) => `\`npm install ${name}\``).join(" or ");
  return new CliError("MISSING_DRIVER", `${flag} needs the ${packages} package, which is not installed: run ${commands}`);
}
