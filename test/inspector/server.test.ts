import { randomUUID } from "node:crypto";
import { connect } from "node:net";
import { hostname } from "node:os";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { maxBodyBytes } from "../../src/inspector/http.js";
import { fullSnapshot } from "../../src/persistence/testing/fixtures.js";
import { action, raw, servedSqlite, sqliteFiles, type Served, type SqliteStore } from "./fixture.js";

const freshSqlite = sqliteFiles();

const get = (served: Served, path: string) => raw(served.inspector.url, "GET", path);
const instances = async (served: Served, query = ""): Promise<string[]> => (await get(served, `/api/instances${query}`)).json().items.map((row: any) => row.instance);

describe("the inspector's server, read-only (no --allow-actions)", () => {
  let served: Served;
  let token: string;
  beforeAll(async () => {
    ({ served, token } = await servedSqlite(freshSqlite, false));
  });
  afterAll(() => served.close());

  it("goes on serving after failing to accept a connection, saying why on stderr", async () => {
    const written: string[] = [];
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => (written.push(String(chunk)), true));
    try {
      served.inspector.server.emit("error", Object.assign(new Error("accept EMFILE"), { code: "EMFILE" }));
    } finally {
      stderr.mockRestore();
    }
    expect(written.join("")).toContain("workflowforge ui: accept EMFILE");
    expect((await raw(served.inspector.url, "GET", "/api/instances")).status).toBe(200);
  });

  it("listens on 127.0.0.1 only", () => {
    expect(served.inspector.server.address()).toMatchObject({ address: "127.0.0.1" });
    expect(served.inspector.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it("lists every instance newest first, with progress, lease state, attempts and dead letters", async () => {
    const body = (await get(served, "/api/instances")).json();
    expect(body.total).toBe(10);
    const byInstance = new Map(body.items.map((row: any) => [row.instance, row]));
    expect(body.items[0].instance).toBe("running-1");
    expect(byInstance.get("running-1")).toMatchObject({ status: "running", lease: "live", nextOperationIndex: 1, operationCount: 4, owner: "worker-a", deadLetter: false });
    expect(byInstance.get("stale-1")).toMatchObject({ status: "running", lease: "stale", state: "stale", stateReason: expect.stringContaining("lease expired") });
    expect(byInstance.get("exited-1")).toMatchObject({ status: "running", lease: "stale", state: "stale", stateReason: expect.stringContaining("has exited") });
    expect(byInstance.get("dead-1")).toMatchObject({ status: "failed", attempts: 3, deadLetter: true, lease: "none" });
    expect(byInstance.get("failed-1")).toMatchObject({ status: "failed", attempts: 1, deadLetter: false });
  });

  it("filters by stored status, by stale and by dead letter, and searches keys, names, owners and errors", async () => {
    expect(await instances(served, "?status=completed")).toEqual(["completed-1"]);
    expect(await instances(served, "?status=compensating,completed")).toEqual(["compensating-1", "completed-1"]);
    expect(await instances(served, "?status=stale")).toEqual(["stale-1", "exited-1"]);
    expect(await instances(served, "?status=dead-letter")).toEqual(["dead-1", "dead-2", expect.stringMatching(/^xss-/)]);
    expect(await instances(served, "?q=WORKER-GONE")).toEqual(["stale-1"]);
    expect(await instances(served, "?q=declined&status=failed")).toEqual(["failed-1", "dead-1", "dead-2"]);
    expect(await instances(served, "?q=orders-v2")).toEqual(["dead-2"]);
    // workflow: one workflow's by its exact name, where q finds any text containing it.
    expect(await instances(served, "?status=dead-letter&workflow=ProcessOrder")).toEqual(["dead-1", "dead-2"]);
    expect(await instances(served, "?workflow=ProcessOrd")).toEqual([]);
  });

  it("pages with offset and limit, reporting the total", async () => {
    const body = (await get(served, "/api/instances?offset=2&limit=3")).json();
    expect({ total: body.total, offset: body.offset, items: body.items.map((row: any) => row.instance) }).toEqual({ total: 10, offset: 2, items: ["compensating-1", "completed-1", "dead-1"] });
  });

  it("pages by the cursor of the last row: a record saved between pages is neither shown twice nor skipped", async () => {
    const { served: own } = await servedSqlite(freshSqlite, false);
    try {
      const page = async (query: string) => (await get(own, `/api/instances?limit=5${query}`)).json();
      const first = await page("");
      expect([first.offset, first.items.length, typeof first.next]).toEqual([0, 5, "string"]);
      const [moved] = (await page(`&after=${encodeURIComponent(first.next)}`)).items;
      const stored = await own.provider.tryLoad(moved.instance, moved.workflowKey);
      await own.provider.save({ ...stored!, revision: stored!.revision + 1, updatedAt: new Date().toISOString() });
      const second = await page(`&after=${encodeURIComponent(first.next)}`);
      const shown = [...first.items, ...second.items].map((row: any) => row.instance);
      // The saved record went above page 1, so page 2 now starts at position 6 and holds the other 4.
      expect([second.offset, second.next, new Set(shown).size, shown.includes(moved.instance)]).toEqual([6, null, 9, false]);
      expect((await page("")).items[0].instance).toBe(moved.instance);
    } finally {
      await own.close();
    }
  });

  it("refuses a cursor it did not give (400), and a cursor together with an offset", async () => {
    for (const after of ["nope", "[1,2,3]", '["2026-01-01T00:00:00.000Z","a"]']) {
      const refused = await get(served, `/api/instances?after=${encodeURIComponent(after)}`);
      expect([refused.status, refused.json().error]).toEqual([400, expect.stringContaining("after must be the next cursor")]);
    }
    const first = (await get(served, "/api/instances?limit=2")).json();
    expect((await get(served, `/api/instances?offset=2&after=${encodeURIComponent(first.next)}`)).status).toBe(400);
  });

  it("shows one instance with its steps, decoded properties and error", async () => {
    const body = (await get(served, "/api/instance?instance=failed-1&workflowKey=orders-v1")).json();
    expect(body.timeline.map((step: any) => step.state)).toEqual(["done", "done", "failed", "pending"]);
    expect(body.timeline[2]).toMatchObject({ name: "charge" });
    const properties = Object.fromEntries(body.properties);
    expect(properties.placedAt).toEqual({ t: "date", v: "2026-01-02T03:04:05.000Z" });
    expect(properties.total).toEqual({ t: "bigint", v: "12345678901234567890" });
    expect(properties.lines).toEqual({ t: "map", size: 1, entries: [[{ t: "string", v: "sku-1" }, { t: "bigint", v: "2" }]] });
    expect(properties.customer.entries[1]).toEqual(["tags", { t: "set", size: 2, items: [{ t: "string", v: "vip" }, { t: "string", v: "eu" }] }]);
    expect(properties.lastFailure).toMatchObject({ t: "error", message: "gateway timeout", stack: expect.stringContaining("gateway timeout"), cause: { t: "error", message: "socket hang up" } });
    expect(Object.fromEntries(body.error)).toMatchObject({ name: { t: "string", v: "CardDeclinedError" }, operationName: { t: "string", v: "charge" } });
  });

  it("shows the stored per-operation times and execution counts, and the run's annotations", async () => {
    const body = (await get(served, "/api/instance?instance=timed-1&workflowKey=orders-v1")).json();
    expect(body.timeline.map((step: any) => [step.state, step.startedAt, step.finishedAt, step.executions])).toEqual([
      ["done", "2026-03-01T10:00:00.000Z", "2026-03-01T10:00:01.200Z", 1],
      ["done", "2026-03-01T10:00:01.500Z", "2026-03-01T10:00:03.900Z", 2],
      ["next", "2026-03-01T10:00:04.000Z", null, 1],
      ["pending", null, null, 0],
    ]);
    expect(body.annotations).toEqual([["tenant", "acme"]]);
  });

  it("groups dead letters by workflow and error", async () => {
    const body = (await get(served, "/api/dead-letters")).json();
    expect(body).toMatchObject({ total: 3, groupCount: 2 });
    expect(body.groups.map((group: any) => [group.workflowName, group.message, group.count, group.instances.map((row: any) => row.instance)])).toEqual([
      ["ProcessOrder", "card declined by the issuer", 2, ["dead-1", "dead-2"]],
      [expect.stringMatching(/^Evil/), expect.stringMatching(/^boom/), 1, [expect.stringMatching(/^xss-/)]],
    ]);
  });

  it("answers at most `limit` groups and `limit` dead letters in all, each group with its count: an outage's thousands are not sent at each refresh", async () => {
    const cut = (await get(served, "/api/dead-letters?limit=1")).json();
    expect(cut).toMatchObject({ total: 3, groupCount: 2 });
    expect(cut.groups.map((group: any) => [group.workflowName, group.count, group.instances.map((row: any) => row.instance)])).toEqual([["ProcessOrder", 2, ["dead-1"]]]);
    const rowsOnly = (await get(served, "/api/dead-letters?limit=2")).json();
    expect(rowsOnly.groups.map((group: any) => [group.count, group.instances.length])).toEqual([[2, 2], [1, 0]]);
    expect((await get(served, "/api/dead-letters?limit=-1")).status).toBe(400);
  });

  it("answers 404 for keys with nothing stored, and 400 for a status it does not know", async () => {
    expect((await get(served, "/api/instance?instance=nope&workflowKey=orders-v1")).status).toBe(404);
    expect((await get(served, "/api/instance?instance=nope")).status).toBe(400);
    // keys: the JSON of the pair, which the page's links carry.
    const byPair = (pair: unknown) => get(served, `/api/instance?${new URLSearchParams({ keys: JSON.stringify(pair) }).toString()}`);
    expect((await byPair(["failed-1", "orders-v1"])).json().row.instance).toBe("failed-1");
    expect((await byPair(["nope", "orders-v1"])).status).toBe(404);
    for (const pair of [["failed-1"], "failed-1", ["failed-1", 7]]) expect((await byPair(pair)).status).toBe(400);
    expect((await byPair(["", "orders-v1"])).status).toBe(404);
    expect((await get(served, "/api/instance?keys=%5Bnot%20json")).status).toBe(400);
    const bad = await get(served, "/api/instances?status=exploded");
    expect([bad.status, bad.json().error]).toEqual([400, expect.stringContaining('status "exploded" is not one of')]);
  });

  it("refuses delete and retry with 403 even from its own page with its token, and changes nothing", async () => {
    for (const path of ["/api/delete", "/api/retry"]) {
      const refused = await action(served.inspector.url, path, { instance: "dead-1", workflowKey: "orders-v1" }, token);
      expect([refused.status, refused.json().error]).toEqual([403, expect.stringContaining("--allow-actions")]);
    }
    expect(await served.provider.tryLoad("dead-1", "orders-v1")).toMatchObject({ attempts: 3, revision: 1 });
  });

  it("serves its page with a content security policy that allows no inline script", async () => {
    const page = await get(served, "/");
    expect(page.status).toBe(200);
    expect(page.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    for (const script of ["/app.js", "/dom.js", "/rows.js", "/instance.js", "/values.js", "/keys.js"]) {
      const body = (await get(served, script)).body;
      expect(body).toMatch(/^(import|export) /m);
      expect(body).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    }
  });
});

describe("the inspector's server with --allow-actions", () => {
  let served: Served;
  let token: string;
  let sqlite: SqliteStore;
  beforeAll(async () => {
    ({ served, token, sqlite } = await servedSqlite(freshSqlite, true));
  });
  afterAll(() => served.close());
  const keys = (instance: string, workflowKey = "orders-v1") => ({ instance, workflowKey });

  it("retries a dead letter: attempts back to 0 as the next revision, for a coordinator to resume", async () => {
    const answer = await action(served.inspector.url, "/api/retry", keys("dead-1"), token);
    expect([answer.status, answer.json()]).toEqual([200, { retried: 1, instance: "dead-1", workflowKey: "orders-v1", revision: 2 }]);
    expect(await served.provider.tryLoad("dead-1", "orders-v1")).toMatchObject({ status: "failed", attempts: 0, revision: 2 });
  });

  it("shows and deletes a record whose key is blank, which a provider stores like any other", async () => {
    await served.provider.save(fullSnapshot({ foundryExecutionId: " ", workflowId: "orders-v1", workflowName: "Orders", status: "failed" }));
    expect((await get(served, `/api/instance?${new URLSearchParams({ keys: JSON.stringify([" ", "orders-v1"]) }).toString()}`)).status).toBe(200);
    expect((await action(served.inspector.url, "/api/delete", keys(" "), token)).status).toBe(200);
    expect(await served.provider.tryLoad(" ", "orders-v1")).toBeUndefined();
  });

  it("neither lists nor retries a record a worker is running on its last attempt: out of attempts, under a live claim", async () => {
    const claimed = fullSnapshot({ foundryExecutionId: "last-try-1", workflowId: "orders-v1", workflowName: "Orders", status: "compensating", attempts: 3, owner: "worker-b", leaseExpiresAt: new Date(Date.now() + 600_000).toISOString() });
    await served.provider.save(claimed);
    expect(await instances(served, "?status=dead-letter")).not.toContain("last-try-1");
    const refused = await action(served.inspector.url, "/api/retry", keys("last-try-1"), token);
    expect([refused.status, refused.json().error]).toEqual([409, expect.stringContaining('claimed by "worker-b"')]);
    expect(await served.provider.tryLoad("last-try-1", "orders-v1")).toEqual(claimed);
  });

  it("refuses to retry what is not a dead letter (409) and keys with nothing stored (404)", async () => {
    const notDead = await action(served.inspector.url, "/api/retry", keys("failed-1"), token);
    expect([notDead.status, notDead.json().error]).toEqual([409, expect.stringContaining("is not a dead letter")]);
    expect((await action(served.inspector.url, "/api/retry", keys("nope"), token)).status).toBe(404);
  });

  it("deletes a record nothing holds, and refuses one under a live claim as the CLI's delete does", async () => {
    const deleted = await action(served.inspector.url, "/api/delete", keys("completed-1"), token);
    expect([deleted.status, deleted.json()]).toEqual([200, { deleted: 1, instance: "completed-1", workflowKey: "orders-v1" }]);
    expect(await served.provider.tryLoad("completed-1", "orders-v1")).toBeUndefined();
    const claimed = await action(served.inspector.url, "/api/delete", keys("running-1"), token);
    expect([claimed.status, claimed.json().error]).toEqual([409, expect.stringContaining("claimed by \"worker-a\"")]);
    expect(await served.provider.tryLoad("running-1", "orders-v1")).toBeDefined();
  });

  it("says what to do about a claimed record from the page, which has no --force: wait for the lease, or the CLI's delete --force", async () => {
    const { error } = (await action(served.inspector.url, "/api/delete", keys("compensating-1"), token)).json();
    expect(error).toMatch(/^instance compensating-1 \/ workflow key orders-v1 is compensating and claimed by "worker-b" until [^;]+; wait for the claim's lease to expire .*`workflowforge delete --force`/);
    expect(error).not.toContain("pass --force");
  });

  it("says to wait for the process, not a lease, about a run saved without one whose owner on this host is alive", async () => {
    const live = fullSnapshot({ foundryExecutionId: "live-1", workflowId: "orders-v1", workflowName: "Orders", status: "running", owner: `process-${hostname()}-${process.pid}-${randomUUID()}`, updatedAt: new Date().toISOString() });
    delete (live as { leaseExpiresAt?: string }).leaseExpiresAt;
    await served.provider.save(live);
    const refused = await action(served.inspector.url, "/api/delete", keys("live-1"), token);
    expect(refused.status).toBe(409);
    expect(refused.json().error).toBe(`instance live-1 / workflow key orders-v1 is running in process ${process.pid} on this host, which is alive (its run holds no lease); wait for that process to finish the run or exit, or delete it from a shell with \`workflowforge delete --force\` and the same store options`);
    expect(await served.provider.tryLoad("live-1", "orders-v1")).toBeDefined();
  });

  it("deletes only the revision the page showed: one saved since is refused (409) and kept", async () => {
    const shown = fullSnapshot({ foundryExecutionId: "shown-1", workflowId: "orders-v1", workflowName: "Orders", status: "failed", revision: 1 });
    await served.provider.save(shown);
    await served.provider.save({ ...shown, revision: 2, nextOperationIndex: 3 });
    const refused = await action(served.inspector.url, "/api/delete", { ...keys("shown-1"), revision: 1 }, token);
    expect([refused.status, refused.json().error]).toEqual([409, expect.stringContaining("saved again since it was read (revision 1, now 2)")]);
    expect(await served.provider.tryLoad("shown-1", "orders-v1")).toMatchObject({ revision: 2 });
    expect((await action(served.inspector.url, "/api/delete", { ...keys("shown-1"), revision: "2" }, token)).status).toBe(400);
    expect((await action(served.inspector.url, "/api/delete", { ...keys("shown-1"), revision: 2 }, token)).status).toBe(200);
    expect(await served.provider.tryLoad("shown-1", "orders-v1")).toBeUndefined();
  });

  it("answers a record that cannot be read with 409 and the store's message for show, retry, cancel and delete alike, never 502", async () => {
    const unreadable = fullSnapshot({ foundryExecutionId: "garbled-1", workflowId: "orders-v1", workflowName: "Orders", status: "failed", attempts: 3 });
    await served.provider.save(unreadable);
    sqlite.database.prepare(`UPDATE ${sqlite.provider.tableName} SET data = 'not json' WHERE instance_id = ?`).run("garbled-1");
    // Not signal: the event is stored whatever the record says, as the CLI's signal does.
    const paths = ["/api/retry", "/api/cancel", "/api/delete"];
    const answers = [await get(served, "/api/instance?instance=garbled-1&workflowKey=orders-v1")];
    for (const path of paths) answers.push(await action(served.inspector.url, path, keys("garbled-1"), token));
    const refusal = [409, expect.stringMatching(/^\[workflowforge:persistence\] stored snapshot for instance "garbled-1" .* is corrupted: /)];
    expect(answers.map((answer) => [answer.status, answer.json().error])).toEqual(["/api/instance", ...paths].map(() => refusal));
  });

  it("refuses an action without the page's token, from another origin, as a GET, or without a JSON content type", async () => {
    const { url } = served.inspector;
    const body = JSON.stringify(keys("dead-2"));
    const json = { "content-type": "application/json" };
    expect((await raw(url, "POST", "/api/delete", { ...json }, body)).status).toBe(403);
    expect((await raw(url, "POST", "/api/delete", { ...json, "x-workflowforge-token": "0".repeat(48) }, body)).status).toBe(403);
    expect((await raw(url, "POST", "/api/delete", { ...json, "x-workflowforge-token": token, origin: "http://evil.example" }, body)).status).toBe(403);
    expect((await raw(url, "POST", "/api/delete", { "content-type": "text/plain", "x-workflowforge-token": token }, body)).status).toBe(415);
    expect((await raw(url, "GET", "/api/delete?instance=dead-2&workflowKey=orders-v2")).status).toBe(405);
    expect(await served.provider.tryLoad("dead-2", "orders-v2")).toBeDefined();
  });

  it("answers malformed requests with a 4xx and keeps serving", async () => {
    const { url } = served.inspector;
    const headers = { "content-type": "application/json", "x-workflowforge-token": token };
    const cases: [string, Promise<{ status: number }>, number][] = [
      ["bad JSON", raw(url, "POST", "/api/delete", headers, "{not json"), 400],
      ["a JSON array", raw(url, "POST", "/api/delete", headers, "[1,2]"), 400],
      ["keys that are not strings", raw(url, "POST", "/api/delete", headers, '{"instance":1,"workflowKey":null}'), 400],
      ["invalid UTF-8", raw(url, "POST", "/api/delete", headers, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 400],
      ["a huge body", raw(url, "POST", "/api/delete", headers, Buffer.alloc(maxBodyBytes + 1, 0x20)), 413],
      ["a huge chunked body", raw(url, "POST", "/api/delete", { ...headers, "transfer-encoding": "chunked" }, Buffer.alloc(4 * maxBodyBytes, 0x20)), 413],
      ["a path out of the page's folder", raw(url, "GET", "/../../../etc/passwd"), 404],
      ["an encoded ..", raw(url, "GET", "/%2e%2e/%2e%2e/package.json"), 404],
      ["a bad percent-encoding", raw(url, "GET", "/%E0%A4%A"), 400],
      ["an encoded NUL", raw(url, "GET", "/app.js%00"), 400],
      ["another Host (DNS rebinding)", raw(url, "GET", "/api/instances", { host: `evil.example:${new URL(url).port}` }), 403],
      ["another Host without a port", raw(url, "GET", "/api/instances", { host: "evil.example" }), 403],
      ["a method it does not serve", raw(url, "PUT", "/api/instances"), 405],
    ];
    for (const [name, response, status] of cases) expect([name, (await response).status]).toEqual([name, status]);
    for (const host of ["localhost", "[::1]", "127.0.0.1"]) expect((await raw(url, "GET", "/api/instances", { host: `${host}:${new URL(url).port}` })).status).toBe(200);
    expect(await garbage(url)).toMatch(/^HTTP\/1\.1 400/);
    expect((await raw(url, "GET", "/api/instances")).status).toBe(200);
  });
});

// Bytes that are not HTTP at all: Node's parser rejects them before any handler runs.
function garbage(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((answered, failed) => {
    const socket = connect(Number(port), hostname, () => socket.end("\x00\x01 NOT HTTP\r\n\r\n"));
    let text = "";
    socket.on("data", (chunk) => (text += chunk.toString()));
    socket.on("close", () => answered(text));
    socket.on("error", failed);
  });
}
