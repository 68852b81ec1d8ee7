import { lstat, mkdir, readdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SnapshotCorruptedError } from "../../../../src/persistence/errors.js";
import type { DeliveredEvent } from "../../../../src/persistence/mailbox.js";
import { fullSnapshot } from "../../../../src/persistence/testing/fixtures.js";
import { useFileStore } from "../../../support/file-store.js";
import { rejectionOf } from "../../../support/promises.js";

// Anything but a directory under an instance's mailbox name (`<name>.events`) is an unreadable
// entry, as under a record's name: a symbolic link is not followed, so no event is written to, or
// read from, outside the provider's directory, and a delete removes the link, not its target.

const files = useFileStore("file-mailbox-entry");
const { provider, recordPath } = files;

const order = { foundryExecutionId: "order-42", workflowId: "expense" };
const event = (eventId: string): DeliveredEvent => ({ ...order, name: "approved", eventId, payload: { by: "ann" }, sentAt: new Date().toISOString() });
const mailboxPath = (): string => recordPath(order).replace(/\.snapshot$/, ".events");

// Each case puts something at the mailbox's name and says how the error names it.
const cases: Record<string, [put: (path: string, outside: string) => Promise<void>, reason: string]> = {
  ...(process.platform === "win32"
    ? {}
    : {
        "a symbolic link to a directory outside the provider's directory": [(path, outside) => symlink(outside, path), "it is a symbolic link"] as const,
        "a dangling symbolic link": [(path, outside) => symlink(join(outside, "missing"), path), "it is a symbolic link"] as const,
      }),
  "a regular file": [(path) => writeFile(path, "not a mailbox"), "it is not a directory"],
};

describe("FilePersistenceProvider with something other than a directory under a mailbox's name", () => {
  for (const [entry, [put, reason]] of Object.entries(cases)) {
    it(`${entry}: deliver and receive reject naming it, and delete removes it alone`, async () => {
      const store = provider();
      await store.save(fullSnapshot({ ...order, revision: 1, status: "waiting" }));
      const outside = join(files.root, "outside");
      await mkdir(outside);
      await writeFile(join(outside, "kept"), "the target's own file");
      const mailbox = mailboxPath();
      await put(mailbox, outside);

      for (const call of [store.deliver(event("mail-1")), store.receive(order, "approved")]) {
        const error = await rejectionOf<SnapshotCorruptedError>(call);
        expect(error).toBeInstanceOf(SnapshotCorruptedError);
        expect([error.keys, error.message]).toEqual([order, expect.stringContaining(`${mailbox} cannot be read: ${reason}; delete removes it`)]);
      }
      expect(await readdir(outside)).toEqual(["kept"]);

      await store.delete(order.foundryExecutionId, order.workflowId);
      await expect(lstat(mailbox)).rejects.toMatchObject({ code: "ENOENT" });
      expect(await readdir(outside)).toEqual(["kept"]);
      // The name is free again: the next delivery makes a mailbox of its own.
      expect(await store.deliver(event("mail-2"))).toBe(true);
      expect((await lstat(mailbox)).isDirectory()).toBe(true);
      expect((await store.receive(order, "approved")).map((delivered) => delivered.eventId)).toEqual(["mail-2"]);
    });
  }
});
