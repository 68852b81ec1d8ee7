import { spawnSync } from "node:child_process";
import { readdir, readlink } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { fullSnapshot, nextRevision } from "../../../../src/persistence/testing/fixtures.js";
import { useFileStore } from "../../../support/file-store.js";

const files = useFileStore("file-fds");

// Linux lists a process's open descriptors in /proc/self/fd, each a link to its file.
describe.skipIf(process.platform !== "linux")("FilePersistenceProvider and file descriptors", () => {
  it("keeps none open between calls, whatever the calls were", async () => {
    const openInDirectory = async () => {
      const links = await Promise.all((await readdir("/proc/self/fd")).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => "")));
      return links.filter((link) => link.startsWith(files.directory));
    };
    const [a, b] = [files.provider(), files.provider({ durability: "fsync" })];
    const snapshots = Array.from({ length: 5 }, (_, i) => fullSnapshot({ foundryExecutionId: `fd-${i}` }));
    for (const snapshot of snapshots) await a.save(snapshot);
    for (const snapshot of snapshots) await b.save(nextRevision(snapshot));
    await a.tryLoad("fd-0", snapshots[0]?.workflowId as string);
    await b.list();
    expect(await openInDirectory()).toEqual([]);
    await Promise.all(snapshots.map((snapshot) => a.delete(snapshot.foundryExecutionId, snapshot.workflowId)));
    expect(await openInDirectory()).toEqual([]);
  });

  it("lets a process with 256 descriptors create 1,000 providers, each saving, all alive at once", { timeout: 60_000 }, () => {
    // Alive at once, as for requests in flight: nothing a provider holds is collected meanwhile.
    const script = `
      const { FilePersistenceProvider } = await import(process.env.PROVIDER);
      const providers = [];
      for (let i = 0; i < 1000; i++) {
        const provider = new FilePersistenceProvider({ directory: process.env.DIRECTORY, durability: "none" });
        providers.push(provider);
        const now = new Date().toISOString();
        await provider.save({ formatVersion: 1, foundryExecutionId: "request-" + i, workflowId: "wf", workflowName: "wf", definitionFingerprint: "f",
          operationCount: 1, nextOperationIndex: 0, properties: {}, status: "running", revision: 1, createdAt: now, updatedAt: now });
      }
      process.stdout.write(String(providers.length));`;
    const PROVIDER = new URL("../../../../src/persistence/providers/file/index.ts", import.meta.url).href;
    const command = `ulimit -n 256 && exec "${process.execPath}" --import tsx --input-type=module -e "$SCRIPT"`;
    const child = spawnSync("sh", ["-c", command], { env: { ...process.env, PROVIDER, DIRECTORY: files.directory, SCRIPT: script }, encoding: "utf8" });
    expect(child.stderr).toBe("");
    expect(child.stdout).toBe("1000");
  });
});
