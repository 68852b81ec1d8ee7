import { execFileSync } from "node:child_process";
import { closeSync, constants, openSync, rmSync, symlinkSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { PersistenceError } from "../../../../src/persistence/errors.js";
import { fullSnapshot, nextRevision } from "../../../../src/persistence/testing/fixtures.js";
import { plantFile, useFileStore } from "../../../support/file-store.js";
import { deadPid } from "../../../support/processes.js";
import { rejectionOf } from "../../../support/promises.js";

const files = useFileStore("file-lock-fifo");
const { provider, lockPath, breakerPath } = files;

// A FIFO no one writes to: a blocking open of it never returns. Made after the test's first save,
// and released when the test ends (failed or timed out included), so that a reader that blocked on it
// does not keep one of libuv's threads.
function makeFifo(path: string): void {
  execFileSync("mkfifo", [path]);
  onTestFinished(() => {
    try {
      closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // nobody was waiting (ENXIO), or it is gone
    }
  });
}

describe.skipIf(process.platform === "win32")("FilePersistenceProvider with something other than a file where a lock file goes", () => {
  // What to make under the lock's name, and why the error says it cannot be read.
  const entries: Record<string, [(path: string) => void, string]> = {
    "a FIFO": [makeFifo, "it is not a regular file"],
    // Followed, it would look like no lock at all, though link() finds the name taken.
    "a dangling symbolic link": [(path) => symlinkSync(join(files.root, "missing"), path), "it is a symbolic link"],
  };
  for (const [entry, [make, reason]] of Object.entries(entries)) {
    it(`${entry} under a lock's name: a lock naming no owner, which save and delete give up on after lockTimeoutMs, saying to remove it; other calls go on`, async () => {
      const store = provider({ lockTimeoutMs: 200 });
      const snapshot = fullSnapshot();
      const { foundryExecutionId, workflowId } = snapshot;
      await store.save(snapshot);
      make(lockPath(snapshot));
      // A new provider's first call sweeps stale locks, and list() does too: neither opens it blocking.
      const fresh = provider({ lockTimeoutMs: 200 });
      expect((await fresh.tryLoad(foundryExecutionId, workflowId))?.revision).toBe(1);
      expect(await fresh.list()).toHaveLength(1);
      for (const call of [() => fresh.save(nextRevision(snapshot)), () => fresh.delete(foundryExecutionId, workflowId)]) {
        const error = await rejectionOf<any>(call());
        expect(error).toBeInstanceOf(PersistenceError);
        expect(error.message).toContain(`the lock file ${lockPath(snapshot)} cannot be read: ${reason}; gave up after 200 ms. Remove it if no writer is running`);
      }
      rmSync(lockPath(snapshot));
      await fresh.save(nextRevision(snapshot));
      expect((await fresh.tryLoad(foundryExecutionId, workflowId))?.revision).toBe(2);
    });
  }

  it("under a breaker's name: never taken for a breaker that died, so a stale lock behind it is left and the writer gives up", async () => {
    const store = provider({ lockTimeoutMs: 200 });
    const snapshot = fullSnapshot();
    await store.save(snapshot);
    const dead = deadPid();
    // A stale lock of a dead writer, whose breaking needs the breaker's turn.
    await plantFile(lockPath(snapshot), `${dead} crashed\n`, new Date(Date.now() - 60_000));
    makeFifo(breakerPath(snapshot));
    const fresh = provider({ lockTimeoutMs: 200 });
    expect(await fresh.list()).toHaveLength(1);
    const error = await rejectionOf<any>(fresh.save(nextRevision(snapshot)));
    expect(error).toBeInstanceOf(PersistenceError);
    expect(error.message).toContain(`is held by process ${dead}; gave up after 200 ms`);
    rmSync(breakerPath(snapshot));
    await fresh.save(nextRevision(snapshot));
    expect(await readdir(files.directory)).toHaveLength(1);
  });
});
