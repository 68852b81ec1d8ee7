import { Redis } from "ioredis";
import { createClient } from "redis";
import { defaultSnapshotCodec, type WorkflowExecutionSnapshot } from "../dist/persistence/index.js";
import { RedisPersistenceProvider, type IoRedisLikeClient, type NodeRedisLikeClient } from "../dist/persistence/redis.js";
import { startRedis, type RedisServer } from "../test/support/redis-server.js";
import {
  averageLength,
  checkpointFixture,
  checkpointOver,
  checkpointRow,
  checkpointSides,
  jsonFloorNote,
  jsonSide,
  replayWithText,
  steps,
  us,
  verifySides,
  type CheckpointFixture,
  type RawWrite,
  type SideName,
} from "./checkpoint-fixture.js";
import { measureSamples, ratio, summarise, verdict, type MeasureOptions, type Side, type Summary } from "./measure.js";
import type { BenchSection } from "./report.js";

// Per-step checkpoint cost of RedisPersistenceProvider on a throw-away local redis-server: a
// 200-step workflow with a 10-key property bag, run with and without usePersistence, against the
// floor of any provider storing JSON with a compare-and-set: the provider's own script, EVALSHA'd
// by hand through the same client with JSON.stringify of the snapshot. One SET per step is shown
// beside it. Ratios only.

const target = 1.15;
const options = { unitsPerSample: 1_000, warmupRounds: 3, rounds: 41 } satisfies MeasureOptions;

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

type CaseSide = SideName | "casJson";

/**
 * The provider's own compare-and-set scripts, EVALSHA'd by hand through the same client: a provider
 * on a recording wrapper of the client saves the captured snapshots and deletes them (twice: the first
 * pass loads the scripts), and each write replays the command it sent with the text swapped.
 */
async function providerScripts(driver: Driver, fixture: CheckpointFixture, keyPrefix: string): Promise<RawWrite> {
  const calls: string[][] = [];
  const client: IoRedisLikeClient = { call: (...args: string[]) => (calls.push(args), driver.send(args)) };
  const provider = new RedisPersistenceProvider({ client, keyPrefix });
  const { foundryExecutionId, workflowId } = fixture.snapshots[0] as WorkflowExecutionSnapshot;
  const only = async (made: () => Promise<void>): Promise<string[]> => {
    calls.length = 0;
    await made();
    if (calls.length !== 1 || calls[0]?.[0] !== "EVALSHA") throw new Error(`the provider sent ${calls.map((call) => call[0]).join(", ")} for one call, expected one EVALSHA`);
    return calls[0];
  };
  for (const snapshot of fixture.snapshots) await provider.save(snapshot);
  await provider.delete(foundryExecutionId, workflowId);
  const writes: Array<(text: string) => string[]> = [];
  for (const snapshot of fixture.snapshots) writes.push(replayWithText(await only(() => provider.save(snapshot)), defaultSnapshotCodec.encode(snapshot)));
  const removal = await only(() => provider.delete(foundryExecutionId, workflowId));
  return {
    write: async (snapshot, text) => {
      const reply = await driver.send((writes[snapshot.revision - 1] as (text: string) => string[])(text));
      if (reply !== null) throw new Error(`the compare-and-set of revision ${snapshot.revision} was refused: ${JSON.stringify(reply)}`);
    },
    end: () => driver.send(removal),
  };
}

async function createCase(driver: Driver, fixture: CheckpointFixture): Promise<Record<CaseSide, Side>> {
  const keyPrefix = `bench-${driver.name}:`;
  const provider = new RedisPersistenceProvider({ client: driver.client, keyPrefix });
  const rawKey = `${keyPrefix}raw`;
  const sides = checkpointSides(fixture, provider, { write: (_snapshot, text) => driver.send(["SET", rawKey, text]), end: () => driver.send(["DEL", rawKey]) });
  // The floor first: each round then measures it, bare and persisted one after the other.
  return { casJson: jsonSide(await providerScripts(driver, fixture, `${keyPrefix}cas:`), fixture), ...sides };
}

export async function run(): Promise<BenchSection> {
  const title = "Redis provider: per-step checkpoint cost (local redis-server)";
  const server = await startRedis();
  if ("skipped" in server) return { title, rows: [], notes: [`Not measured: ${server.skipped}.`] };
  const drivers = await connect(server);
  try {
    const fixture = await checkpointFixture("RedisBench");
    const version = /redis_version:(\S+)/.exec(String(await drivers[0]?.send(["INFO", "server"])))?.[1] ?? "unknown";
    const cases: Array<Record<CaseSide, Side>> = [];
    for (const driver of drivers) {
      const sides = await createCase(driver, fixture);
      await sides.casJson.run();
      await verifySides(sides, async () => (await driver.send(["KEYS", `bench-${driver.name}:*`])) as string[]);
      cases.push(sides);
    }
    const samples = await measureSamples(cases, options);
    const results = samples.map((bySide) => Object.fromEntries(Object.entries(bySide).map(([side, values]) => [side, summarise(values)])) as Record<CaseSide, Summary>);
    const ratios = samples.map((bySide) => checkpointOver(bySide, "casJson"));
    const name = (i: number): string => drivers[i]?.name ?? "?";
    return {
      title,
      against: "the provider's own compare-and-set script, EVALSHA'd by hand with JSON.stringify of the snapshot",
      rows: results.map((result, i) => ({
        ...checkpointRow({ client: drivers[i]?.name ?? "?" }, "raw SET", result),
        "compare-and-set + JSON.stringify µs/step": us(result.casJson.median),
        "checkpoint / (compare-and-set + JSON)": ratio(ratios[i]?.median ?? Number.NaN),
      })),
      notes: [
        `Target: checkpoint within ${target}× of the provider's own compare-and-set script writing JSON: ${ratios.map((over, i) => `${name(i)} ${verdict(over.median <= target)} (${ratio(over.median)}, ±${(over.spread * 100).toFixed(1)}% over rounds)`).join("; ")}.`,
        `Against one raw SET of the same text (no compare-and-set, so not a floor for one): checkpoint ${samples.map((bySide, i) => `${ratio(checkpointOver(bySide, "raw").median)} (${name(i)})`).join(" and ")}; the compare-and-set floor alone ${results.map((result, i) => `${ratio(result.casJson.median / result.raw.median)} (${name(i)})`).join(" and ")}.`,
        `A ${steps}-step workflow with a 10-key property bag; encoded snapshots average ${averageLength(fixture)} characters. Server: redis-server ${version}, sharing this machine with the benchmark (loopback TCP).`,
        "checkpoint = (forge() with usePersistence − forge() without) / steps: snapshot building, encoding and one EVALSHA round trip (compare-and-set and HSET; the index SADD and the claimable set's ZADD only on an instance's first save, their removal in the delete), plus one HMGET and one delete per run.",
        "raw SET: the same client writing the same encoded text with `SET key text`, awaited one at a time. provider.save: the captured snapshots saved directly. encode: the codec alone, which the raw side does not pay.",
        jsonFloorNote("raw SET"),
        "compare-and-set + JSON.stringify: the floor of any provider storing JSON with a compare-and-set on a server before Redis 8.4, which has none built in. The provider's own scripts (create for revision 1, update after, then its delete), recorded as the provider sends them through the same client and EVALSHA'd by hand with `JSON.stringify(snapshot)` made in the loop; a refused write stops the bench. Those scripts also keep the sorted set of claimable records that `claim()` reads (one ZADD on the first save, one ZREM on the delete; a checkpoint's update reads two more hash fields and leaves the set alone), and the floor keeps it too: a provider that offers claiming by page must store that set with its compare-and-set, so the floor is the same work, and the ratio measures only what the engine, the codec and the provider's argument building add. The ratio is taken per round (the sides measured moments apart), then the median over rounds.",
        `Median of ${options.rounds} samples of ${options.unitsPerSample.toLocaleString("en")} steps after ${options.warmupRounds} warm-up rounds, sides and clients interleaved.`,
      ],
    };
  } finally {
    for (const driver of drivers) await driver.close();
    await server.stop();
  }
}
