import { Redis } from "ioredis";
import { createClient } from "redis";
import { RedisPersistenceProvider, type IoRedisLikeClient, type NodeRedisLikeClient } from "../dist/persistence/redis.js";
import { startRedis, type RedisServer } from "../test/support/redis-server.js";
import { averageLength, checkpointFixture, checkpointOf, checkpointRow, checkpointSides, steps, verifySides, type CheckpointFixture, type SideName } from "./checkpoint-fixture.js";
import { measureInterleaved, ratio, verdict, type Side } from "./measure.js";
import type { BenchSection } from "./report.js";

// Per-step checkpoint cost of RedisPersistenceProvider on a throw-away local redis-server: a
// 200-step workflow with a 10-key property bag, run with and without usePersistence, against the
// floor of the same client writing the same encoded text with one SET per step. Ratios only.

const target = 1.3;

interface Driver {
  readonly name: string;
  readonly client: IoRedisLikeClient | NodeRedisLikeClient;
  /** One raw command through the same client, for the floor. */
  readonly send: (args: string[]) => Promise<unknown>;
  close(): Promise<void>;
}

async function connect(server: RedisServer): Promise<Driver[]> {
  const ioredis = new Redis(server.url);
  const nodeRedis = await createClient({ url: server.url }).connect();
  return [
    { name: "ioredis", client: ioredis, send: ([command, ...args]) => ioredis.call(command as string, ...args), close: async () => void (await ioredis.quit()) },
    { name: "node-redis", client: nodeRedis, send: (args) => nodeRedis.sendCommand(args), close: () => nodeRedis.close() },
  ];
}

function createCase(driver: Driver, fixture: CheckpointFixture): Record<SideName, Side> {
  const keyPrefix = `bench-${driver.name}:`;
  const provider = new RedisPersistenceProvider({ client: driver.client, keyPrefix });
  const rawKey = `${keyPrefix}raw`;
  return checkpointSides(fixture, provider, { write: (_snapshot, text) => driver.send(["SET", rawKey, text]), end: () => driver.send(["DEL", rawKey]) });
}

export async function run(): Promise<BenchSection> {
  const title = "Redis provider: per-step checkpoint cost (local redis-server)";
  const server = await startRedis();
  if ("skipped" in server) return { title, rows: [], notes: [`Not measured: ${server.skipped}.`] };
  const drivers = await connect(server);
  try {
    const fixture = await checkpointFixture("RedisBench");
    const cases = drivers.map((driver) => createCase(driver, fixture));
    for (const [i, sides] of cases.entries()) {
      const driver = drivers[i] as Driver;
      await verifySides(sides, async () => (await driver.send(["KEYS", `bench-${driver.name}:*`])) as string[]);
    }
    const results = await measureInterleaved(cases, { unitsPerSample: 2_000, warmupRounds: 3, rounds: 11 });
    const ratios = results.map((result) => checkpointOf(result) / result.raw.median);
    return {
      title,
      rows: results.map((result, i) => checkpointRow({ client: drivers[i]?.name ?? "?" }, "raw SET", result)),
      notes: [
        `Target: checkpoint within ${target}× of one raw SET: ${drivers.map((driver, i) => `${driver.name} ${verdict((ratios[i] ?? Infinity) <= target)} (${ratio(ratios[i] ?? Number.NaN)})`).join(", ")}.`,
        `A ${steps}-step workflow with a 10-key property bag; encoded snapshots average ${averageLength(fixture)} characters. Server and benchmark share this machine (loopback TCP).`,
        "checkpoint = (forge() with usePersistence − forge() without) / steps: snapshot building, encoding and one EVALSHA round trip (compare-and-set and HSET; the index SADD only on an instance's first save), plus one HGET and one delete per run.",
        "raw SET: the same client writing the same encoded text with `SET key text`, awaited one at a time. provider.save: the captured snapshots saved directly. encode: the codec alone, which the raw side does not pay.",
        "Median of 11 samples of 2,000 steps after 3 warm-up rounds, sides and clients interleaved.",
      ],
    };
  } finally {
    for (const driver of drivers) await driver.close();
    await server.stop();
  }
}
