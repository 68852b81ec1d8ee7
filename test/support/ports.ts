import { once } from "node:events";
import { createServer } from "node:net";

/** A port on 127.0.0.1 that nothing listens on: bound once to learn a free one, then closed. */
export async function deadPort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
