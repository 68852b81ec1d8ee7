import Database from "better-sqlite3";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StoreSpec } from "../../src/cli/args.js";
import { defaultTimeout } from "../../src/cli/args.js";
import { openStore, type OpenStore } from "../../src/cli/stores.js";
import { startInspector, type Inspector } from "../../src/inspector/server.js";
import type { WorkflowPersistenceProvider } from "../../src/persistence/provider.js";
import { SqlitePersistenceProvider } from "../../src/persistence/providers/sqlite.js";
import { afterAll } from "vitest";
import { serverSkipped, type ServerSkipped } from "../support/throwaway-server.js";
import { inspectorSnapshots } from "./seed.js";

/** A seeded store, the inspector serving it through the CLI's own store opening, and a provider to check the store with. */
export interface Served {
  readonly inspector: Inspector;
  readonly store: OpenStore;
  readonly provider: WorkflowPersistenceProvider;
  close(): Promise<void>;
}

export async function serve(spec: StoreSpec, provider: WorkflowPersistenceProvider, allowActions: boolean, seed = inspectorSnapshots()): Promise<Served> {
  for (const snapshot of seed) await provider.save(snapshot);
  const store = await openStore(spec, defaultTimeout);
  const inspector = await startInspector(store, { port: 0, host: "127.0.0.1", allowActions, maxAttempts: 3 });
  return {
    inspector,
    store,
    provider,
    close: async () => {
      await inspector.close();
      await store.close();
    },
  };
}

export interface SqliteStore {
  readonly spec: StoreSpec;
  readonly provider: SqlitePersistenceProvider;
  readonly database: Database.Database;
}

/**
 * New SQLite files in a directory of the calling test file's own. Call it at the top of the file: it
 * registers closing every database and removing the directory after that file's tests (a hook at
 * this module's top level would be registered by the first file to import it only, as test files in
 * one worker share the modules they import).
 */
export function sqliteFiles(): () => Promise<SqliteStore> {
  const root = mkdtempSync(join(tmpdir(), "workflowforge-inspector-"));
  const databases: Database.Database[] = [];
  // Registered before the calling file's own hooks, so it runs after them: the stores are closed by then.
  afterAll(() => {
    for (const database of databases) if (database.open) database.close();
    rmSync(root, { recursive: true, force: true });
  });
  let files = 0;
  /** A new SQLite file with the provider's table, its flags for the CLI, and a provider on it. */
  return async () => {
    const file = join(root, `store-${++files}.db`);
    const database = new Database(file);
    databases.push(database);
    const provider = new SqlitePersistenceProvider({ database });
    await provider.migrate();
    return { spec: { kind: "sqlite", file, options: {} }, provider, database };
  };
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  json(): any;
}

/** One HTTP request exactly as given (path not normalised, any Host), for what a browser would not send. */
export function raw(url: string, method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((answered, failed) => {
    const req = request({ host: hostname, port, method, path, headers, setHost: headers.host === undefined }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => answered({ status: response.statusCode ?? 0, headers: response.headers, body: text, json: () => JSON.parse(text) }));
    });
    // The server may answer (413) and close before the whole body is sent.
    req.on("error", failed);
    req.end(body);
  });
}

/** The token the page carries, read from the page as a browser would. */
export async function pageToken(url: string): Promise<string> {
  const page = await raw(url, "GET", "/");
  const match = /name="workflowforge-token" content="([0-9a-f]+)"/.exec(page.body);
  if (match === null) throw new Error("no token in the page");
  return match[1] as string;
}

/** The inspector on a fresh, seeded SQLite file, the token its page carries, and the file (to garble a record behind its back). */
export async function servedSqlite(fresh: () => Promise<SqliteStore>, allowActions: boolean): Promise<{ served: Served; token: string; sqlite: SqliteStore }> {
  const sqlite = await fresh();
  const served = await serve(sqlite.spec, sqlite.provider, allowActions);
  return { served, token: await pageToken(served.inspector.url), sqlite };
}

/** A POST as the page sends it: same origin, the token, a JSON body. */
export async function action(url: string, path: string, body: unknown, token: string): Promise<RawResponse> {
  const origin = url.replace(/\/$/, "");
  return raw(url, "POST", path, { "content-type": "application/json", origin, "x-workflowforge-token": token }, JSON.stringify(body));
}

export const chromiumPath = "/usr/bin/chromium";

/** Chromium's executable, or why the browser suite is skipped (an error under WORKFLOWFORGE_REQUIRE_SERVERS=1). */
export function findChromium(): { path: string } | ServerSkipped {
  const path = process.env.WORKFLOWFORGE_CHROMIUM ?? chromiumPath;
  if (existsSync(path)) return { path };
  return serverSkipped(`no Chromium at ${path}: install it (apt-get install chromium) or set WORKFLOWFORGE_CHROMIUM to its path to run the inspector's browser tests`);
}
