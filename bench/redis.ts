import { Redis } from "ioredis";
import { createClient } from "redis";
import { RedisPersistenceProvider, type IoRedisLikeClient, type NodeRedisLikeClient } from "../dist/persistence/redis.js";
import { startRedis, type RedisServer } from "../test/support/redis-server.js";
import {
  averageLength,
  checkpointFixture,
  checkpointOf,
  checkpointRow,
  checkpointSides,
  jsonFloorNote,
  steps,
  us,
  verifySides,
  type CheckpointFixture,
  type SideName,
} from "./checkpoint-fixture.js";
import { measureInterleaved, ratio, verdict, type MeasureOptions, type Side } from "./measure.js";
import type { BenchSection } from "./report.js";

// Per-step checkpoint cost of RedisPersistenceProvider on a throw-away local redis-server: a
// 200-step workflow with a 10-key property bag, run with and without usePersistence, against the
// floor of the same client writing the same encoded text with one SET per step. Ratios only.

const target = 1.3;
const options = { unitsPerSample: 2_000, warmupRounds: 3, rounds: 21 } satisfies MeasureOptions;

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

// The least a compare-and-set can be before Redis 8.4, which has none built in: a script that reads the
// stored revision, compares it and writes the text and the revision. The provider's script does
// this plus the status and the workflow name, which list() filters on.
const CAS_SCRIPT = `if (redis.call('HGET', KEYS[1], 'revision') or '') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'data', ARGV[1], 'revision', ARGV[3])
return 1`;

type CaseSide = SideName | "rawCas";

function createCase(driver: Driver, fixture: CheckpointFixture, casSha: string): Record<CaseSide, Side> {
  const keyPrefix = `bench-${driver.name}:`;
  const provider = new RedisPersistenceProvider({ client: driver.client, keyPrefix });
  const rawKey = `${keyPrefix}raw`;
  const casKey = `${keyPrefix}cas`;
  const sides = checkpointSides(fixture, provider, { write: (_snapshot, text) => driver.send(["SET", rawKey, text]), end: () => driver.send(["DEL", rawKey]) });
  // Stringified in the loop, like the rawJson side: the least any provider storing JSON with a
  // compare-and-set pays on this server.
  const rawCas: Side = {
    run: async () => {
      for (const [i, snapshot] of fixture.snapshots.entries()) {
        const written = await driver.send(["EVALSHA", casSha, "1", casKey, JSON.stringify(snapshot), i === 0 ? "" : String(i), String(i + 1)]);
        if (written !== 1) throw new Error(`the raw compare-and-set of revision ${i + 1} was refused`);
      }
      await driver.send(["DEL", casKey]);
    },
    units: steps,
  };
  return { ...sides, rawCas };
}

export async function run(): Promise<BenchSection> {
  const title = "Redis provider: per-step checkpoint cost (local redis-server)";
  const server = await startRedis();
  if ("skipped" in server) return { title, rows: [], notes: [`Not measured: ${server.skipped}.`] };
  const drivers = await connect(server);
  try {
    const fixture = await checkpointFixture("RedisBench");
    const casSha = String(await drivers[0]?.send(["SCRIPT", "LOAD", CAS_SCRIPT]));
    const version = /redis_version:(\S+)/.exec(String(await drivers[0]?.send(["INFO", "server"])))?.[1] ?? "unknown";
    const cases = drivers.map((driver) => createCase(driver, fixture, casSha));
    for (const [i, sides] of cases.entries()) {
      const driver = drivers[i] as Driver;
      await sides.rawCas.run();
      await verifySides(sides, async () => (await driver.send(["KEYS", `bench-${driver.name}:*`])) as string[]);
    }
    const results = await measureInterleaved(cases, options);
    const ratios = results.map((result) => checkpointOf(result) / result.raw.median);
    return {
      title,
      rows: results.map((result, i) => ({
        ...checkpointRow({ client: drivers[i]?.name ?? "?" }, "raw SET", result),
        "raw compare-and-set + JSON.stringify µs/step": us(result.rawCas.median),
        "(compare-and-set + JSON) / raw": ratio(result.rawCas.median / result.raw.median),
      })),
      notes: [
        `Target: checkpoint within ${target}× of one raw SET: ${drivers.map((driver, i) => `${driver.name} ${verdict((ratios[i] ?? Infinity) <= target)} (${ratio(ratios[i] ?? Number.NaN)})`).join(", ")}.`,
        `Floor: a compare-and-set of JSON text alone, stringified in the loop, costs ${results.map((result, i) => `${ratio(result.rawCas.median / result.raw.median)} (${drivers[i]?.name ?? "?"})`).join(" and ")} of a SET here, before the codec's envelope and checksum, the status and name fields and the engine's snapshot.`,
        `A ${steps}-step workflow with a 10-key property bag; encoded snapshots average ${averageLength(fixture)} characters. Server: redis-server ${version}, sharing this machine with the benchmark (loopback TCP).`,
        "checkpoint = (forge() with usePersistence − forge() without) / steps: snapshot building, encoding and one EVALSHA round trip (compare-and-set and HSET; the index SADD only on an instance's first save), plus one HGET and one delete per run.",
        "raw SET: the same client writing the same encoded text with `SET key text`, awaited one at a time. provider.save: the captured snapshots saved directly. encode: the codec alone, which the raw side does not pay.",
        jsonFloorNote("raw SET"),
        "raw compare-and-set + JSON.stringify: the least a provider that stores JSON with compare-and-set does on a server before Redis 8.4, which has no compare-and-set built in: EVALSHA of a three-line script (HGET of the revision, compare, HSET of the text and the revision) with `JSON.stringify(snapshot)` made in the loop. The provider's script also writes the status and the workflow name, which list() filters on, and its text carries the codec's envelope and checksum.",
        `Median of ${options.rounds} samples of ${options.unitsPerSample.toLocaleString("en")} steps after ${options.warmupRounds} warm-up rounds, sides and clients interleaved.`,
      ],
    };
  } finally {
    for (const driver of drivers) await driver.close();
    await server.stop();
  }
}
