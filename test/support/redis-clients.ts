import { Redis } from "ioredis";
import { createClient } from "redis";
import type { IoRedisLikeClient, NodeRedisLikeClient } from "../../src/persistence/providers/redis.js";

/** A connected client of either driver, and how to let it go. */
export interface ConnectedRedisClient {
  readonly client: IoRedisLikeClient | NodeRedisLikeClient;
  close(): Promise<void>;
}

/** The two drivers the Redis provider takes, each connected to `url` and answering before it is handed out. */
export const redisClients: readonly { readonly name: string; connect(url: string): Promise<ConnectedRedisClient> }[] = [
  {
    name: "ioredis",
    connect: async (url) => {
      const client = new Redis(url);
      await client.ping();
      return { client, close: async () => void (await client.quit()) };
    },
  },
  {
    name: "node-redis",
    connect: async (url) => {
      const client = await createClient({ url }).connect();
      return { client, close: () => client.close() };
    },
  },
];
