import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync } from "node:fs";
import { copyFile, mkdir, readdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SnapshotCorruptedError, SnapshotSerializationError } from "../../../../src/persistence/errors.js";
import type { DeliveredEvent } from "../../../../src/persistence/mailbox.js";
import { defaultSnapshotCodec } from "../../../../src/persistence/codec/codec.js";
import { formatEvent } from "../../../../src/persistence/providers/file/event.js";
import { encodePayload } from "../../../../src/persistence/providers/stored.js";
import { eventFileName } from "../../../../src/persistence/providers/file/names.js";
import { fullSnapshot } from "../../../../src/persistence/testing/fixtures.js";
import { taggedJsonCodec } from "../../../support/custom-codec.js";
import { useFileStore } from "../../../support/file-store.js";
import { rejectionOf } from "../../../support/promises.js";

const files = useFileStore("file-mailbox");
const { provider, recordPath } = files;

type Keys = { foundryExecutionId: string; workflowId: string };
const order: Keys = { foundryExecutionId: "order-42", workflowId: "expense" };

const event = (eventId: string, changes: Partial<DeliveredEvent> = {}): DeliveredEvent => ({
  ...order,
  name: "approved",
  eventId,
  payload: { by: "ann" },
  sentAt: new Date().toISOString(),
  ...changes,
});

/** The mailbox directory of `keys`: named like the record, with `.events` for `.snapshot`. */
const mailboxPath = (keys: Keys): string => recordPath(keys).replace(/\.snapshot$/, ".events");
/** The one event file in the mailbox of `keys`, after one delivery. */
async function onlyEventFile(keys: Keys): Promise<string> {
  const names = await readdir(mailboxPath(keys));
  expect(names).toHaveLength(1);
  return join(mailboxPath(keys), names[0] as string);
}
const ids = (events: readonly DeliveredEvent[]): string[] => events.map((delivered) => delivered.eventId);

describe("FilePersistenceProvider's mailbox", () => {
  it("declares the mailbox capability, and neither claim nor push", () => {
    expect(provider().capabilities).toEqual({ compareAndSet: true, list: true, mailbox: true });
  });

  it("stores an eventId once: a second delivery, from another provider object too, resolves false and the first payload stays", async () => {
    const [a, b] = [provider(), provider({ durability: "fsync" })];
    expect(await a.deliver(event("mail-1", { payload: "first" }))).toBe(true);
    expect(await b.deliver(event("mail-1", { payload: "second" }))).toBe(false);
    expect(await a.deliver(event("mail-1", { payload: "third" }))).toBe(false);
    const received = await b.receive(order, "approved");
    expect(received).toEqual([{ ...event("mail-1"), payload: "first", sentAt: received[0]?.sentAt }]);
  });

  it("gives exactly one of 20 concurrent deliveries of one eventId true, and leaves no temporary file", async () => {
    const stores = Array.from({ length: 20 }, (_, index) => provider({ durability: index % 2 === 0 ? "none" : "fsync" }));
    const outcomes = await Promise.all(stores.map((store, index) => store.deliver(event("once", { payload: index }))));
    expect(outcomes.filter(Boolean)).toHaveLength(1);
    const [stored] = await stores[0]!.receive(order, "approved");
    expect(stored?.payload).toBe(outcomes.indexOf(true));
    expect((await readdir(files.directory)).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });

  it("round-trips payloads through the codec: Date, Map, BigInt, undefined and nesting", async () => {
    const payload = { at: new Date("2026-01-02T03:04:05.678Z"), amounts: new Map<unknown, unknown>([["eur", 12n], [1, [undefined, { deep: new Set([1]) }]]]) };
    await provider().deliver(event("rich", { payload }));
    const [received] = await provider().receive(order, "approved");
    expect(received?.payload).toEqual(payload);
    expect((received?.payload as typeof payload).at).toBeInstanceOf(Date);
  });

  it("stores payloads in the provider's codec's text, a custom codec's too", async () => {
    const store = provider({ codec: taggedJsonCodec });
    await store.deliver(event("custom", { payload: { by: "ann", amount: 12 } }));
    expect((await readFile(await onlyEventFile(order), "utf8")).split("\n")[1]).toMatch(/^custom:\{.*"amount":12/);
    expect((await store.receive(order, "approved"))[0]?.payload).toEqual({ by: "ann", amount: 12 });
  });

  it("writes nothing for a payload the codec refuses", async () => {
    const error = await rejectionOf(provider().deliver(event("bad", { payload: { run: () => 1 } })));
    expect(error).toBeInstanceOf(SnapshotSerializationError);
    expect((error as SnapshotSerializationError).path).toMatch(/\.run$/);
    expect(await provider().receive(order, "approved")).toEqual([]);
  });

  it("receives only the asked name's events, in the order they were delivered, many in one millisecond, from two provider objects", async () => {
    const [a, b] = [provider(), provider()];
    const delivered: string[] = [];
    for (let index = 0; index < 60; index++) {
      const name = index % 3 === 0 ? "rejected" : "approved";
      // Ids whose file names sort against the delivery order.
      const eventId = `${String(1000 - index)}-${name}`;
      await (index % 2 === 0 ? a : b).deliver(event(eventId, { name }));
      if (name === "approved") delivered.push(eventId);
    }
    expect(ids(await a.receive(order, "approved"))).toEqual(delivered);
    expect((await b.receive(order, "rejected")).every((received) => received.name === "rejected")).toBe(true);
    expect(await a.receive(order, "other")).toEqual([]);
  });

  it("breaks ties of equal delivery times by file name, the same for every reader", async () => {
    await provider().deliver(event("seed"));
    const mailbox = mailboxPath(order);
    const at = 1_700_000_000_000_000;
    for (const eventId of ["b", "a", "c"]) {
      await writeFile(join(mailbox, eventFileName(eventId, () => "")), formatEvent(event(eventId), encodePayload(defaultSnapshotCodec, event(eventId)), at));
    }
    // base32: "a" is "me", "b" is "mi", "c" is "mm".
    expect(ids(await provider().receive(order, "approved"))).toEqual(["a", "b", "c", "seed"]);
  });

  it("keeps events delivered before the record exists, and delete removes the record and the events", async () => {
    const store = provider({ durability: "fsync" });
    await store.deliver(event("early"));
    await store.save(fullSnapshot({ ...order, status: "waiting", waitingFor: "approved" }));
    expect(ids(await store.receive(order, "approved"))).toEqual(["early"]);
    await store.delete(order.foundryExecutionId, order.workflowId);
    expect(await store.receive(order, "approved")).toEqual([]);
    expect(await store.tryLoad(order.foundryExecutionId, order.workflowId)).toBeUndefined();
    expect(await readdir(files.directory)).toEqual([]);
  });

  it("lets delete remove a mailbox without a record (left by a crash between the two, or an early delivery), and resolve for unknown keys", async () => {
    await provider().deliver(event("orphan"));
    await provider().delete(order.foundryExecutionId, order.workflowId);
    expect(await readdir(files.directory)).toEqual([]);
    await provider().delete("never", "seen");
  });

  it("keeps every delivery and delete resolving while they race on one instance, from several provider objects", async () => {
    for (let round = 0; round < 30; round++) {
      const deliveries = Array.from({ length: 6 }, (_, index) => provider().deliver(event(`race-${round}-${index}`)));
      await Promise.all([...deliveries, provider().delete(order.foundryExecutionId, order.workflowId), provider().delete(order.foundryExecutionId, order.workflowId)]);
    }
    await provider().delete(order.foundryExecutionId, order.workflowId);
    expect(await readdir(files.directory)).toEqual([]);
  });

  it("keeps instances and events apart for odd keys, event ids and names: lone surrogates, '..', '|', '/', empty and 10,000 characters", async () => {
    const long = "k".repeat(10_000);
    const pairs: Keys[] = [
      { foundryExecutionId: "a|b", workflowId: "c" },
      { foundryExecutionId: "a", workflowId: "b|c" },
      { foundryExecutionId: "..", workflowId: "../x/" },
      { foundryExecutionId: "\uD800", workflowId: "\uDC00" },
      { foundryExecutionId: "\uFFFD", workflowId: "\uFFFD" },
      { foundryExecutionId: long, workflowId: long },
      { foundryExecutionId: `${long}x`, workflowId: long },
    ];
    const eventIds = ["", "..", "/", "a|b", "\uD800", "\uFFFD", "e".repeat(10_000), `${"e".repeat(10_000)}f`];
    const names = ["", "..", "\uDFFF", "n".repeat(10_000)];
    const nameOf = (index: number): string => names[index % names.length] as string;
    const store = provider();
    for (const [pair, keys] of pairs.entries()) {
      for (const [index, eventId] of eventIds.entries()) expect(await store.deliver(event(eventId, { ...keys, name: nameOf(index), payload: [pair, index] }))).toBe(true);
    }
    for (const [pair, keys] of pairs.entries()) {
      expect(await provider().deliver(event(eventIds[6] as string, { ...keys, name: "again" }))).toBe(false);
      for (const name of names) {
        const expected = [...eventIds.entries()].filter(([index]) => nameOf(index) === name);
        const received = await provider().receive(keys, name);
        expect(ids(received)).toEqual(expected.map(([, eventId]) => eventId));
        expect(received.map((delivered) => delivered.payload)).toEqual(expected.map(([index]) => [pair, index]));
        expect(received.every((delivered) => delivered.name === name && delivered.foundryExecutionId === keys.foundryExecutionId && delivered.workflowId === keys.workflowId)).toBe(true);
      }
    }
  });

  describe("rejects receive() with SnapshotCorruptedError naming the event file it cannot read, never leaving the event out", () => {
    const cases: Record<string, (path: string) => Promise<void>> = {
      "junk content": (path) => writeFile(path, "\u0000 not an event"),
      "no header line (truncated)": (path) => writeFile(path, '{"format":"workflowforge-file-event/1"'),
      "a header without its fields": (path) => writeFile(path, '{"format":"workflowforge-file-event/1","deliveredAt":1}\n"x"'),
      "a payload that does not decode": async (path) => writeFile(path, (await readFile(path, "utf8")).replace(/\n[^]*$/, '\n{"$wf":"nope"}')),
      "a directory": async (path) => {
        await rm(path);
        await mkdir(path);
      },
      // A FIFO that no one writes to: a blocking open would never return.
      ...(process.platform === "win32"
        ? {}
        : {
            "a FIFO": async (path: string) => {
              await rm(path);
              execFileSync("mkfifo", [path]);
            },
            // Neither is followed (Windows follows them): this provider never makes one, and a
            // dangling one keeps the name taken.
            "a dangling symbolic link": async (path: string) => {
              await rm(path);
              await symlink(join(files.root, "missing"), path);
            },
            "a symbolic link to the event file, moved out of the mailbox": async (path: string) => {
              await rename(path, join(files.root, "moved.event"));
              await symlink(join(files.root, "moved.event"), path);
            },
          }),
      "an event file renamed (not the name made for its eventId)": (path) => rename(path, join(path, "..", "e-mfrgg.event")),
      "another instance's event copied in": async (path) => {
        const other = { foundryExecutionId: "order-43", workflowId: "expense" };
        await provider().deliver(event("mail-1", other));
        await copyFile(await onlyEventFile(other), path);
      },
    };
    for (const [entry, damage] of Object.entries(cases)) {
      it(entry, async () => {
        const store = provider();
        await store.deliver(event("mail-1"));
        const path = await onlyEventFile(order);
        await damage(path);
        const error = await rejectionOf<SnapshotCorruptedError>(store.receive(order, "approved"));
        expect(error).toBeInstanceOf(SnapshotCorruptedError);
        expect(error.keys).toEqual(order);
        expect(error.message).toContain(`the event file ${join(mailboxPath(order))}/`);
        // Whatever name it asks for, when the header is what is lost: that file might be an event of that name.
        if (entry !== "a payload that does not decode") expect(await rejectionOf(store.receive(order, "other"))).toBeInstanceOf(SnapshotCorruptedError);
        else expect(await store.receive(order, "other")).toEqual([]);
      });
    }

    it.skipIf(process.platform === "win32")("a dangling symbolic link under an event's name: deliver of that id resolves false, and receive says what is there", async () => {
      const store = provider();
      await store.deliver(event("mail-1"));
      const path = await onlyEventFile(order);
      await rm(path);
      await symlink(join(files.root, "missing"), path);
      // The name is taken, as by a FIFO: the delivery stores nothing, and receive will not pass over it.
      expect(await store.deliver(event("mail-1"))).toBe(false);
      const error = await rejectionOf<SnapshotCorruptedError>(store.receive(order, "approved"));
      expect(error).toBeInstanceOf(SnapshotCorruptedError);
      expect([error.keys, error.message]).toEqual([order, expect.stringContaining(`the event file ${path} cannot be read: it is a symbolic link`)]);
    });

    // Root reads any file, so the check runs in a child that gives up root first.
    it.skipIf(process.platform === "win32")("a file this process may not read (EACCES)", { timeout: 30_000 }, async () => {
      await provider().deliver(event("mail-1"));
      const path = await onlyEventFile(order);
      for (const folder of [files.root, files.directory, mailboxPath(order)]) chmodSync(folder, 0o755);
      chmodSync(path, 0o000);
      const script = `
        const { FilePersistenceProvider } = await import(process.env.PROVIDER);
        if (process.getuid() === 0) { process.setgid(65534); process.setuid(65534); }
        const provider = new FilePersistenceProvider({ directory: process.env.DIRECTORY, durability: "none" });
        const error = await provider.receive(JSON.parse(process.env.KEYS), "approved").then(() => undefined, (error) => error);
        process.stdout.write(JSON.stringify({ code: error?.code, message: error?.message, cause: error?.cause?.code }));`;
      const PROVIDER = new URL("../../../../src/persistence/providers/file/index.ts", import.meta.url).href;
      const env = { ...process.env, PROVIDER, DIRECTORY: files.directory, KEYS: JSON.stringify(order) };
      const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { env, encoding: "utf8" });
      expect(child.stderr).toBe("");
      expect(JSON.parse(child.stdout)).toEqual({ code: "SNAPSHOT_CORRUPTED", message: expect.stringContaining(`the event file ${path} cannot be read: EACCES`), cause: "EACCES" });
    });
  });

  it("passes over mailbox entries not named like an event", async () => {
    await provider().deliver(event("mail-1"));
    await writeFile(join(mailboxPath(order), "notes.txt"), "not an event");
    await mkdir(join(mailboxPath(order), "t-1-00.tmp"));
    expect(ids(await provider().receive(order, "approved"))).toEqual(["mail-1"]);
  });
});

describe("FilePersistenceProvider.list() beside mailboxes", () => {
  it("lists only records, reports no mailbox as unreadable, and leaves only records and mailboxes in the directory", async () => {
    const store = provider();
    const waiting = fullSnapshot({ ...order, status: "waiting", waitingFor: "approved" });
    await store.save(waiting);
    await store.deliver(event("mail-1"));
    await store.deliver(event("early", { foundryExecutionId: "no-record-yet" }));
    const unreadable: unknown[] = [];
    const listed = await store.list({}, undefined, { onUnreadable: (error) => unreadable.push(error) });
    expect([listed.map((snapshot) => snapshot.foundryExecutionId), unreadable]).toEqual([["order-42"], []]);
    expect(await store.list({ status: "waiting" })).toHaveLength(1);
    const early = { foundryExecutionId: "no-record-yet", workflowId: order.workflowId };
    expect((await readdir(files.directory)).sort()).toEqual([recordPath(order), mailboxPath(order), mailboxPath(early)].map((path) => path.slice(files.directory.length + 1)).sort());
  });
});
