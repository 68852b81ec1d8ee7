import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { SnapshotCodec } from "../../src/persistence/codec/codec.js";
import { FilePersistenceProvider } from "../../src/persistence/providers/file/index.js";
import { cli, cliJson, cliProcess, instancesOf, seedSnapshots } from "./run-cli.js";
import { describeStoreCommands } from "./store-cases.js";

const root = mkdtempSync(join(tmpdir(), "workflowforge-cli-provider-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const fileProvider = JSON.stringify(fileURLToPath(new URL("../../src/persistence/providers/file/index.ts", import.meta.url)));
const filesOn = (directory: string, codec?: SnapshotCodec) => new FilePersistenceProvider({ directory, durability: "none", ...(codec === undefined ? {} : { codec }) });

/** A user's own provider class, in the module's text: the file provider behind methods of its own. */
function storeClass(directory: string, { list = true } = {}): string {
  const listing = list ? "capabilities = { compareAndSet: true, list: true };\n  async *list(filter, signal, options) { yield* await this.inner.list(filter, signal, options); }" : "capabilities = { compareAndSet: true };";
  return `class OrdersStore {
  inner = new FilePersistenceProvider({ directory: ${JSON.stringify(directory)}, durability: "none" });
  ${listing}
  save(snapshot, signal) { return this.inner.save(snapshot, signal); }
  tryLoad(instance, key, signal) { return this.inner.tryLoad(instance, key, signal); }
  delete(instance, key, signal) { return this.inner.delete(instance, key, signal); }
}`;
}

/** A fresh directory, seeded, and an ESM module (its path) whose createProvider() opens it; closeProvider() writes to `closed`. */
async function storeModule(options: { list?: boolean; seed?: boolean; text?: (directory: string) => string } = {}): Promise<{ path: string; directory: string; closed: string }> {
  const home = mkdtempSync(join(root, "module-"));
  const directory = join(home, "store");
  mkdirSync(directory);
  if (options.seed !== false) for (const snapshot of seedSnapshots()) await filesOn(directory).save(snapshot);
  const closed = join(home, "closed.log");
  const text =
    options.text?.(directory) ??
    `import { appendFileSync } from "node:fs";
import { FilePersistenceProvider } from ${fileProvider};
${storeClass(directory, options)}
export async function createProvider() { return new OrdersStore(); }
export function closeProvider(provider) { appendFileSync(${JSON.stringify(closed)}, provider.constructor.name + "\\n"); }
`;
  const path = join(home, "orders-store.mjs");
  writeFileSync(path, text);
  return { path, directory, closed };
}

describeStoreCommands("a provider module (--provider)", async () => {
  const { path, directory } = await storeModule({ seed: false });
  return { args: ["--provider", path], provider: filesOn(directory), writer: (codec) => filesOn(directory, codec) };
});

describe("workflowforge CLI --provider", () => {
  it("names the store by the provider's class and module, and calls closeProvider once after the command", async () => {
    const { path, closed } = await storeModule();
    const { code, stdout, stderr } = await cli("list", "--provider", path, "--status", "failed");
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toMatch(new RegExp(`\\n1 snapshot \\(status failed\\) in OrdersStore from ${path.replace(/[.\\/]/g, "\\$&")}\\.\\n$`));
    expect(readFileSync(closed, "utf8")).toBe("OrdersStore\n");
  });

  it("shows and deletes on a provider that does not declare list; list and prune exit 1 saying it must", async () => {
    const { path } = await storeModule({ list: false });
    expect(await cliJson("show", "order-42", "billing-v1", "--provider", path)).toMatchObject({ foundryExecutionId: "order-42", status: "failed" });
    expect(await cliJson("delete", "invoice-7", "billing-v1", "--provider", path)).toEqual({ deleted: 1, instance: "invoice-7", workflowKey: "billing-v1" });
    const message = `workflowforge: OrdersStore from ${path} does not declare list (capabilities: { list: true } and a list() method), which list and prune need; show and delete work without it\n`;
    expect(await cli("list", "--provider", path)).toEqual({ code: 1, stdout: "", stderr: message });
    expect(await cli("prune", "--provider", path, "--older-than", "1d")).toEqual({ code: 1, stdout: "", stderr: message });
  });

  it("signal exits 1 saying the provider keeps no events when it does not declare capabilities.mailbox; cancel works without it", async () => {
    const { path } = await storeModule();
    expect(await cli("signal", "order-42", "billing-v1", "retry", "--provider", path)).toEqual({
      code: 1,
      stdout: "",
      stderr: `workflowforge: OrdersStore from ${path} keeps no events: its provider does not declare capabilities.mailbox (deliver() and receive()), which signal needs\n`,
    });
    expect(await cliJson("cancel", "order-42", "billing-v1", "--provider", path)).toMatchObject({ result: "cancelled", previousStatus: "failed" });
  });

  it("signal delivers through the module's provider when it keeps events, once per event id", async () => {
    const { path } = await storeModule({
      text: (directory) => `import { FilePersistenceProvider } from ${fileProvider};
const inner = new FilePersistenceProvider({ directory: ${JSON.stringify(directory)}, durability: "none" });
export const delivered = [];
export const createProvider = () => ({
  capabilities: { compareAndSet: true, mailbox: true },
  save: (...args) => inner.save(...args),
  tryLoad: (...args) => inner.tryLoad(...args),
  delete: (...args) => inner.delete(...args),
  async deliver(event) {
    if (delivered.some((e) => e.foundryExecutionId === event.foundryExecutionId && e.workflowId === event.workflowId && e.eventId === event.eventId)) return false;
    delivered.push(event);
    return true;
  },
  async receive(keys, name) { return delivered.filter((e) => e.foundryExecutionId === keys.foundryExecutionId && e.workflowId === keys.workflowId && e.name === name); },
});
`,
    });
    const send = () => cliJson("signal", "order-42", "billing-v1", "retry", "--provider", path, "--payload", '{"card":"new"}', "--event-id", "ev-1");
    expect(await send()).toMatchObject({ eventId: "ev-1", stored: true, status: "failed" });
    expect(await send()).toMatchObject({ eventId: "ev-1", stored: false });
    const { delivered } = (await import(pathToFileURL(path).href)) as { delivered: { name: string; eventId: string; payload: unknown }[] };
    expect(delivered.map(({ name, eventId, payload }) => ({ name, eventId, payload }))).toEqual([{ name: "retry", eventId: "ev-1", payload: { card: "new" } }]);
  });

  it("reports a listed value that is not a snapshot as unreadable, lists the rest, and exits 1", async () => {
    const { path } = await storeModule({
      text: (directory) => `import { FilePersistenceProvider } from ${fileProvider};
const inner = new FilePersistenceProvider({ directory: ${JSON.stringify(directory)}, durability: "none" });
export const createProvider = () => ({
  capabilities: { list: true },
  tryLoad: (...args) => inner.tryLoad(...args),
  delete: (...args) => inner.delete(...args),
  list: async (...args) => [{ foundryExecutionId: "odd-1", workflowId: "billing-v1", foo: 1 }, ...(await inner.list(...args))],
});
`,
    });
    const { code, stdout, stderr } = await cli("list", "--provider", path, "--json");
    expect([code, instancesOf(JSON.parse(stdout))]).toEqual([1, ["invoice-7", "order-42", "ship-9", "ship-10"]]);
    expect(stderr).toMatch(/^workflowforge: 1 record could not be read and was left out:\n {2}\[workflowforge:persistence\] stored snapshot for .*odd-1.* is corrupted: /);
  });

  const module = (name: string, text: string): string => {
    const path = join(mkdtempSync(join(root, "bad-")), name);
    writeFileSync(path, text);
    return path;
  };
  const failures: [string, () => string, (path: string) => string][] = [
    ["a module that throws while it loads", () => module("p.mjs", 'throw new Error("ORDERS_DB_URL is not set");\n'), (path) => `the module ${path} failed to load: ORDERS_DB_URL is not set`],
    ["a createProvider() that rejects", () => module("p.mjs", 'export async function createProvider() { throw new Error("no credentials"); }\n'), () => "createProvider() failed: no credentials"],
    [
      "a module without the createProvider export",
      () => module("p.mjs", "export function makeProvider() {}\nexport const version = 1;\n"),
      (path) => `the module ${path} has no createProvider export (export function createProvider() { return yourProvider; }); it exports makeProvider, version`,
    ],
    ["a createProvider() that returns no provider", () => module("p.mjs", "export const createProvider = () => ({ save() {} });\n"), () => "createProvider() must return a provider (with tryLoad() and delete(), and list() for list and prune), got an object without tryLoad and delete()"],
    ["a path where no file is", () => join(root, "no-such-module.mjs"), (path) => `${path} does not exist or is not a file`],
    ["a package that is not installed", () => "workflowforge-no-such-provider", () => `no such package is installed for ${process.cwd()} (a path starts with ./ or /)`],
  ];

  it.each(failures)("exits 1 with one line naming the module for %s", async (_, make, reason) => {
    const specifier = make();
    for (const command of [["list"], ["show", "order-42", "billing-v1"]]) {
      expect(await cli(...command, "--provider", specifier)).toEqual({ code: 1, stdout: "", stderr: `workflowforge: --provider ${specifier}: ${reason(specifier)}\n` });
    }
  });

  it("gives up after --timeout when createProvider() never settles", async () => {
    const path = module("p.mjs", "export const createProvider = () => new Promise(() => {});\n");
    expect(await cli("list", "--provider", path, "--timeout", "200ms")).toEqual({
      code: 1,
      stdout: "",
      stderr: `workflowforge: --provider ${path}: loading the module and createProvider() did not finish within 200ms; check that the store it connects to answers, or raise --timeout\n`,
    });
  });
});

describe("workflowforge CLI --provider in a process of its own", () => {
  it("loads a CommonJS module by a path relative to the working directory", async () => {
    const { directory, closed } = await storeModule();
    const home = join(directory, "..");
    writeFileSync(
      join(home, "orders-store.cjs"),
      `const { appendFileSync } = require("node:fs");
const { FilePersistenceProvider } = require(${fileProvider});
${storeClass(directory)}
module.exports = { createProvider: () => new OrdersStore(), closeProvider: () => appendFileSync(${JSON.stringify(closed)}, "closed\\n") };
`,
    );
    const { code, stdout, stderr } = await cliProcess(["list", "--provider", "./orders-store.cjs", "--json"], { cwd: home });
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(instancesOf(JSON.parse(stdout))).toEqual(["invoice-7", "order-42", "ship-9", "ship-10"]);
    expect(readFileSync(closed, "utf8")).toBe("closed\n");
  });

  it("keeps --json stdout to the JSON alone: what the module logs with console.log, info, debug or dir goes to stderr", async () => {
    const { path } = await storeModule({
      text: (directory) => `import { FilePersistenceProvider } from ${fileProvider};
${storeClass(directory)}
console.log("orders store: loading");
export function createProvider() { console.info("orders store: connected to %s", "db-1"); console.dir({ pool: "ready" }); return new OrdersStore(); }
const list = OrdersStore.prototype.list;
OrdersStore.prototype.list = function (...args) { console.debug("orders store: listing"); return list.apply(this, args); };
`,
    });
    const { code, stdout, stderr } = await cliProcess(["list", "--provider", path, "--json"]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "orders store: loading\norders store: connected to db-1\n{ pool: 'ready' }\norders store: listing\n" });
    expect(instancesOf(JSON.parse(stdout))).toEqual(["invoice-7", "order-42", "ship-9", "ship-10"]);
  });

  it("loads a package by its name from the working directory's node_modules", async () => {
    const { directory } = await storeModule();
    const home = join(directory, "..");
    const pkg = join(home, "node_modules", "@acme", "orders-store");
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "@acme/orders-store", type: "module", exports: "./index.js" }));
    writeFileSync(join(pkg, "index.js"), `import { FilePersistenceProvider } from ${fileProvider};\n${storeClass(directory)}\nexport const createProvider = async () => new OrdersStore();\n`);
    const { code, stdout, stderr } = await cliProcess(["show", "order-42", "billing-v1", "--provider", "@acme/orders-store", "--json"], { cwd: home });
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(JSON.parse(stdout)).toMatchObject({ foundryExecutionId: "order-42", attempts: 2 });
  });
});
