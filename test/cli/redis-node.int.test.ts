import { Redis } from "ioredis";
import { afterAll, expect, it, vi } from "vitest";
import type * as Drivers from "../../src/cli/drivers.js";
import { describeWithServer } from "../support/describe-with-server.js";
import { deadPort } from "../support/ports.js";
import { startRedis } from "../support/redis-server.js";

// The CLI on Redis through node-redis, as where ioredis is not installed: the driver lookup says so.
vi.mock("../../src/cli/drivers.js", async (original) => {
  const actual = await original<typeof Drivers>();
  return { ...actual, tryImportDriver: (name: string) => (name === "ioredis" ? Promise.resolve(undefined) : actual.tryImportDriver(name as never)) };
});
const { openStore } = await import("../../src/cli/stores.js");
const { expectUiReconnects } = await import("./ui-reconnects.js");

describeWithServer("workflowforge ui on Redis through node-redis", await startRedis(), (started) => {
  const admin = new Redis(started.url);
  afterAll(async () => {
    await admin.quit();
    await started.stop();
  });

  it("connects again after the server dropped its connection, and answers once more", async () => {
    await expectUiReconnects(started.url, admin);
  });

  it("keeps a healthy connection that stayed idle for longer than --timeout", async () => {
    const store = await openStore({ kind: "redis", url: started.url, options: {} }, { text: "500ms", ms: 500 }, true);
    const others = async (): Promise<string[]> => {
      const own = String(await admin.call("CLIENT", "ID"));
      const listed = String(await admin.call("CLIENT", "LIST", "TYPE", "normal"));
      return [...listed.matchAll(/^id=(\d+) /gm)].map((match) => match[1]!).filter((id) => id !== own);
    };
    // A busy machine may take longer than the short --timeout over a list: not what this checks, so
    // the list is asked for again. A connection closed in between would still show as a new client.
    const list = async (attempts = 5): Promise<void> => {
      try {
        await store.provider.list({}, undefined, {});
      } catch (error) {
        if (attempts === 1 || (error as { code?: unknown }).code !== "TIMEOUT") throw error;
        await list(attempts - 1);
      }
    };
    try {
      await list();
      const before = await others();
      // Idle three times --timeout: an idle-based socket timeout would have closed it by now.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await list();
      expect(await others()).toEqual(before);
    } finally {
      await store.close();
    }
  });

  it("refuses a database the server does not have, rather than act on database 0's records", async () => {
    await expect(openStore({ kind: "redis", url: `${started.url}/99`, options: {} }, { text: "5s", ms: 5_000 }, false)).rejects.toMatchObject({ code: "STORE", message: expect.stringContaining("DB index is out of range") });
  });

  it("reports a server it cannot reach at once, as a command does", async () => {
    const closed = `redis://127.0.0.1:${await deadPort()}`;
    await expect(openStore({ kind: "redis", url: closed, options: {} }, { text: "5s", ms: 5_000 }, true)).rejects.toMatchObject({ code: "STORE", message: expect.stringMatching(/cannot reach Redis/) });
  });
});
