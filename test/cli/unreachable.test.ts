import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { cli } from "./run-cli.js";

/** A port of 127.0.0.1 that nothing listens on: bound by the OS, then released. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

describe("workflowforge CLI with an unreachable server", () => {
  it("exits 1 naming the PostgreSQL server, password hidden, when the connection is refused", async () => {
    const port = await closedPort();
    // With a day to spare, a CLI that retried would hang past the test's timeout instead of failing fast.
    const { code, stdout, stderr } = await cli("list", "--postgres", `postgres://app:s3cr3t@127.0.0.1:${port}/app`, "--timeout", "1d");
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toBe(`workflowforge: cannot reach PostgreSQL postgres://app:***@127.0.0.1:${port}/app: connect ECONNREFUSED 127.0.0.1:${port}\n`);
  });

  it("shows no part of a password that holds an @, nor a password given as a parameter", async () => {
    const port = await closedPort();
    const url = `postgres://app:hunter2@2024@127.0.0.1:${port}/app?sslpassword=k3yp4ss`;
    const { code, stderr } = await cli("list", "--postgres", url, "--timeout", "2s");
    expect(code).toBe(1);
    expect(stderr).toContain(`PostgreSQL postgres://app:***@127.0.0.1:${port}/app?sslpassword=***`);
    expect(stderr).not.toMatch(/hunter2|2024|k3yp4ss/);
  });

  it("shows no part of a password parameter that holds an @ in a connection string without userinfo", async () => {
    const port = await closedPort();
    const { code, stderr } = await cli("list", "--postgres", `postgres://127.0.0.1:${port}/app?user=app&password=p@ssw0rd`, "--timeout", "2s");
    expect(code).toBe(1);
    expect(stderr).toContain(`PostgreSQL postgres://127.0.0.1:${port}/app?user=app&password=***`);
    expect(stderr).not.toMatch(/ssw0rd/);
  });

  it("exits 1 naming the Redis server when the connection is refused", async () => {
    const port = await closedPort();
    const { code, stderr } = await cli("prune", "--older-than", "1d", "--redis", `redis://:s3cr3t@127.0.0.1:${port}`);
    expect(code).toBe(1);
    expect(stderr).toBe(`workflowforge: cannot reach Redis redis://:***@127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`);
  });
});
