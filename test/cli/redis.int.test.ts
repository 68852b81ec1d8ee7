import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { openRedis } from "../../src/cli/redis-store.js";
import { RedisPersistenceProvider } from "../../src/persistence/providers/redis.js";
import { fullSnapshot } from "../../src/persistence/testing/fixtures.js";
import { describeWithServer } from "../support/describe-with-server.js";
import { startRedis } from "../support/redis-server.js";
import { cli, seedSnapshots } from "./run-cli.js";
import { describeStoreCommands, type StoreFixture } from "./store-cases.js";
import { expectUiReconnects, expectUiRecoversFromSilence } from "./ui-reconnects.js";
import { describeWaitCommands } from "./wait-cases.js";

// A redis-server of its own on a free port of 127.0.0.1, or a skip saying how to enable it.
const server = await startRedis();

describeWithServer("workflowforge CLI on a real Redis server", server, (started) => {
  const client = new Redis(started.url);
  afterAll(async () => {
    await client.quit();
    await started.stop();
  });

  const freshStore = (): Promise<StoreFixture> => {
    // Every case under its own prefix: the same server holds them all.
    const keyPrefix = `cli-${randomUUID()}:`;
    return Promise.resolve({
      args: ["--redis", started.url, "--key-prefix", keyPrefix],
      provider: new RedisPersistenceProvider({ client, keyPrefix }),
      writer: (codec) => new RedisPersistenceProvider({ client, keyPrefix, codec }),
    });
  };
  describeStoreCommands("Redis (--redis)", freshStore);
  describeWaitCommands("Redis (--redis)", freshStore);

  describe("workflowforge CLI --redis", () => {
    it("gives up on a request the server holds back after --timeout, saying what to check, and exits 1", async () => {
      const keyPrefix = `cli-${randomUUID()}:`;
      const provider = new RedisPersistenceProvider({ client, keyPrefix });
      for (const snapshot of seedSnapshots()) await provider.save(snapshot);
      // Reads are answered, writes held back: the claim delete saves first is the request that never returns.
      await client.call("CLIENT", "PAUSE", "30000", "WRITE");
      try {
        // Long enough to connect and read on a busy machine (the time limit covers those too).
        const { code, stderr } = await cli("delete", "order-42", "billing-v1", "--redis", started.url, "--key-prefix", keyPrefix, "--timeout", "3s");
        expect({ code, stderr }).toEqual({
          code: 1,
          stderr: `workflowforge: Redis ${started.url}, key prefix "${keyPrefix}": save did not finish within 3s; check that the server is up and answering, or raise --timeout\n`,
        });
      } finally {
        await client.call("CLIENT", "UNPAUSE");
      }
    });

    it("an inspector (ui) whose connection the server dropped connects again and answers once more", async () => {
      await expectUiReconnects(started.url, client);
    });

    it("an inspector (ui) whose connection went silent without closing connects again once a request ran out of time", async () => {
      await expectUiRecoversFromSilence(started.url, client);
    });

    it("an inspector (ui) whose request ran out of time on a server that is only slow keeps its connection: a write sent meanwhile lands once", async () => {
      const keyPrefix = `cli-${randomUUID()}:`;
      const seeded = new RedisPersistenceProvider({ client, keyPrefix });
      const dead = fullSnapshot({ status: "failed", attempts: 3 });
      await seeded.save(dead);
      const opened = await openRedis({ kind: "redis", url: started.url, options: { keyPrefix } }, { text: "2s", ms: 2_000 }, true);
      try {
        await client.call("CLIENT", "PAUSE", "1000", "ALL");
        // Sent while the server is paused, then a call of the same connection runs out of time.
        const retried = opened.provider.save({ ...dead, attempts: 0, revision: 2 });
        opened.onLate?.();
        await retried;
        expect(await seeded.tryLoad(dead.foundryExecutionId, dead.workflowId)).toMatchObject({ revision: 2, attempts: 0 });
      } finally {
        await opened.close();
      }
    });

    it("refuses a database the server does not have, rather than act on database 0's records, and exits 1", async () => {
      const admin = new Redis(started.url);
      const keyPrefix = `db-${randomUUID()}:`;
      try {
        await new RedisPersistenceProvider({ client: admin, keyPrefix }).save(fullSnapshot({ foundryExecutionId: "in-db-0", workflowId: "Nightly" }));
        const deleted = await cli("delete", "in-db-0", "Nightly", "--redis", `${started.url}/99`, "--key-prefix", keyPrefix);
        expect([deleted.code, deleted.stderr]).toEqual([1, expect.stringContaining("DB index is out of range")]);
        expect(await new RedisPersistenceProvider({ client: admin, keyPrefix }).tryLoad("in-db-0", "Nightly")).toMatchObject({ foundryExecutionId: "in-db-0" });
      } finally {
        await admin.quit();
      }
    });

    it("names the key prefix when nothing is stored under it", async () => {
      const { code, stdout } = await cli("list", "--redis", started.url, "--key-prefix", "nothing-here:");
      expect(code).toBe(0);
      expect(stdout).toBe(`No snapshots in Redis ${started.url}, key prefix "nothing-here:".\n`);
    });
  });
});
