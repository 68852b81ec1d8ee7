import { Redis } from "ioredis";
import { createClient } from "redis";
import { RedisPersistenceProvider } from "../../../src/persistence/providers/redis.js";

// A process delivering one event (eventId "e", payload TAG) to each of COUNT instances at once,
// through its own connection and provider, once the test says go: one side of a race between
// processes. Prints whether each delivery stored its event, as JSON.

const { REDIS_URL: url = "", KEY_PREFIX: keyPrefix = "", DRIVER: driver = "", COUNT: count = "0", TAG: tag = "" } = process.env;
const [client, close] =
  driver === "ioredis"
    ? ((c: Redis) => [c, () => c.quit()] as const)(new Redis(url))
    : await createClient({ url }).connect().then((c) => [c, () => c.close()] as const);
const send = (args: string[]): Promise<unknown> => ("call" in client ? client.call(args[0]!, ...args.slice(1)) : client.sendCommand(args));
await send(["RPUSH", `${keyPrefix}ready`, tag]);
await send(["BLPOP", `${keyPrefix}go`, "30"]);
const provider = new RedisPersistenceProvider({ client, keyPrefix });
const stored = await Promise.all(
  Array.from({ length: Number(count) }, (_, i) =>
    provider.deliver({ foundryExecutionId: `race-${i}`, workflowId: "w", name: "approved", eventId: "e", payload: { tag }, sentAt: new Date().toISOString() }),
  ),
);
process.stdout.write(JSON.stringify(stored));
await close();
