import { connect, createServer, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { maxHeaderBytes, maxQueryBytes } from "../../src/inspector/http.js";
import { fullSnapshot } from "../../src/persistence/testing/fixtures.js";
import { action, pageToken, raw, servedSqlite, sqliteFiles, type Served } from "./fixture.js";

const freshSqlite = sqliteFiles();

/** A TCP port that forwards every connection to `url`'s, as `ssh -L <port>:127.0.0.1:<its port>` does. */
async function portForward(url: string): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(url);
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = connect(Number(target.port), target.hostname);
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on("error", () => undefined);
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((closed) => server.close(() => closed()));
    },
  };
}

describe("the inspector's requests", () => {
  let served: Served;
  let token: string;
  beforeAll(async () => {
    ({ served, token } = await servedSqlite(freshSqlite, true));
  });
  afterAll(() => served.close());

  it("answers through a port forward, whose own port the browser names in Host and Origin", async () => {
    const forward = await portForward(served.inspector.url);
    try {
      expect((await raw(forward.url, "GET", "/")).status).toBe(200);
      expect((await raw(forward.url, "GET", "/api/instances")).json().total).toBe(10);
      // The page's token, read through the forward, and an action sent through it as the page sends it.
      const deleted = await action(forward.url, "/api/delete", { instance: "completed-1", workflowKey: "orders-v1" }, await pageToken(forward.url));
      expect([deleted.status, deleted.json()]).toEqual([200, { deleted: 1, instance: "completed-1", workflowKey: "orders-v1" }]);
    } finally {
      await forward.close();
    }
  });

  it("answers a Host without a port, as a browser sends for port 80", async () => {
    for (const host of ["127.0.0.1", "localhost", "[::1]"]) expect([host, (await raw(served.inspector.url, "GET", "/api/instances", { host })).status]).toEqual([host, 200]);
    const headers = { host: "127.0.0.1", origin: "http://127.0.0.1", "content-type": "application/json", "x-workflowforge-token": token };
    const retried = await raw(served.inspector.url, "POST", "/api/retry", headers, JSON.stringify({ instance: "dead-2", workflowKey: "orders-v2" }));
    expect(retried.status).toBe(200);
  });

  it("refuses a Host that names anything but an IP address or localhost, with any port or none (DNS rebinding)", async () => {
    for (const host of ["evil.example", "evil.example:80", "localhost.evil.example:4380", "127.0.0.1.nip.io", "[evil.example]:80", "127.0.0.1:", "[127.0.0.1]"]) {
      expect([host, (await raw(served.inspector.url, "GET", "/api/instances", { host })).status]).toEqual([host, 403]);
    }
  });

  it("refuses a query whose percent-encoding is not UTF-8 (400), rather than read it as U+FFFD, which names another instance", async () => {
    await served.provider.save(fullSnapshot({ foundryExecutionId: "lone\uFFFD", workflowId: "W", workflowName: "Orders", status: "failed" }));
    for (const path of ["/api/instance?instance=lone%FF&workflowKey=W", "/api/instance?keys=%5B%22lone%FF%22,%22W%22%5D", "/api/instances?q=%FF", "/api/instances?q=%E6%97", "/?x=%"]) {
      const refused = await raw(served.inspector.url, "GET", path);
      expect([path, refused.status, refused.json().error]).toEqual([path, 400, "the request query string is not valid percent-encoded UTF-8"]);
    }
    expect((await raw(served.inspector.url, "GET", "/api/instance?instance=lone%EF%BF%BD&workflowKey=W")).json().row.instance).toBe("lone\uFFFD");
  });

  it("answers a query over its limit with a JSON error (414), and a request line over Node's limit with one too (431)", async () => {
    const tooLong = await raw(served.inspector.url, "GET", `/api/instances?q=${"a".repeat(maxQueryBytes)}`);
    expect([tooLong.status, tooLong.json()]).toEqual([414, { error: `the query string is over ${maxQueryBytes} bytes` }]);
    const overflow = await raw(served.inspector.url, "GET", `/api/instances?q=${"a".repeat(maxHeaderBytes)}`);
    expect([overflow.status, overflow.headers["content-type"], overflow.json()]).toEqual([431, "application/json; charset=utf-8", { error: `the request line and headers are over ${maxHeaderBytes} bytes` }]);
    expect((await raw(served.inspector.url, "GET", "/api/instances")).status).toBe(200);
  });
});
