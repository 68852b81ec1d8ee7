import { describe, expect, it } from "vitest";
import { parseCommand } from "../../src/cli/args.js";
import { cli } from "./run-cli.js";

describe("workflowforge CLI arguments of signal and cancel", () => {
  it("parses signal's keys, event, JSON payload and event id", () => {
    expect(parseCommand(["signal", "expense-7", "Expense-v1", "approved", "--dir", "d", "--payload", '{"by":"ann","at":[1,2]}', "--event-id", "mail-123"])).toEqual({
      kind: "signal",
      store: { kind: "dir", path: "d" },
      keys: { foundryExecutionId: "expense-7", workflowId: "Expense-v1" },
      event: { name: "approved", payload: { by: "ann", at: [1, 2] }, eventId: "mail-123" },
      timeout: { text: "10s", ms: 10_000 },
      json: false,
    });
  });

  it("leaves the payload undefined and the event id to the command when the flags are not given", () => {
    const command = parseCommand(["signal", "a", "b", "paid", "--sqlite", "app.db", "--json"]);
    expect(command).toMatchObject({ kind: "signal", json: true });
    expect(command.kind === "signal" && command.event).toEqual({ name: "paid", payload: undefined });
  });

  it("takes any JSON value as the payload: a string, a number, null", () => {
    const payloadOf = (text: string): unknown => {
      const command = parseCommand(["signal", "a", "b", "e", "--dir", "d", "--payload", text]);
      return command.kind === "signal" ? command.event.payload : undefined;
    };
    expect([payloadOf('"yes"'), payloadOf("42"), payloadOf("null"), payloadOf(" [true] ")]).toEqual(["yes", 42, null, [true]]);
  });

  it("parses cancel with and without --compensate", () => {
    expect(parseCommand(["cancel", "a", "b", "--redis", "redis://h"])).toMatchObject({ kind: "cancel", keys: { foundryExecutionId: "a", workflowId: "b" }, compensate: false });
    expect(parseCommand(["cancel", "--postgres", "postgres://h/db", "--compensate", "--", "-a", "b"])).toMatchObject({ kind: "cancel", keys: { foundryExecutionId: "-a", workflowId: "b" }, compensate: true });
  });

  const bad: [string, string[], RegExp][] = [
    ["a payload that is not JSON", ["signal", "a", "b", "e", "--dir", ".", "--payload", "{by: ann}"], /^--payload is not valid JSON \(.+\); quote it for the shell, e\.g\. --payload '\{"by":"ann"\}'$/],
    ["an empty payload", ["signal", "a", "b", "e", "--dir", ".", "--payload", ""], /^--payload is not valid JSON /],
    ["a blank event id", ["signal", "a", "b", "e", "--dir", ".", "--event-id", " "], /^--event-id needs a non-blank value$/],
    ["an empty event name", ["signal", "a", "b", "", "--dir", "."], /^signal needs a non-empty <event>/],
    ["a blank instance id", ["cancel", " ", "b", "--dir", "."], /^cancel needs a non-blank <instanceId>$/],
    ["a blank workflow key", ["signal", "a", "", "e", "--dir", "."], /^signal needs a non-blank <workflowKey>$/],
    ["signal without its event", ["signal", "a", "b", "--dir", "."], /^signal needs <instanceId> <workflowKey> <event>; missing <event>$/],
    ["cancel with an extra argument", ["cancel", "a", "b", "c", "--dir", "."], /^unexpected argument "c" for cancel$/],
    ["--compensate on signal", ["signal", "a", "b", "e", "--dir", ".", "--compensate"], /^--compensate does not apply to signal \(only to cancel\)$/],
    ["--payload on cancel", ["cancel", "a", "b", "--dir", ".", "--payload", "1"], /^--payload does not apply to cancel \(only to signal\)$/],
    ["--payload twice", ["signal", "a", "b", "e", "--dir", ".", "--payload", "1", "--payload", "2"], /^--payload is given more than once$/],
  ];

  it.each(bad)("exits 2 naming what is wrong, with a hint to the command's help, for %s", async (_, argv, message) => {
    const { code, stdout, stderr } = await cli(...argv);
    expect({ code, stdout }).toEqual({ code: 2, stdout: "" });
    const [first, hint, ...more] = stderr.split("\n");
    expect(first?.slice("workflowforge: ".length)).toMatch(message);
    expect(hint).toBe(`Run "workflowforge help ${argv[0] ?? ""}" for usage.`);
    expect(more).toEqual([""]);
  });

  it("has a help page for each, listed in the overview", async () => {
    const overview = (await cli("--help")).stdout;
    expect(overview).toMatch(/^ {2}signal <instanceId> <workflowKey> <event>\n\s+send an event to an instance/m);
    expect(overview).toMatch(/^ {2}cancel <instanceId> <workflowKey>\s+cancel a waiting, failed or running instance$/m);
    expect((await cli("help", "signal")).stdout).toMatch(/^Usage: workflowforge signal <instanceId> <workflowKey> <event> <store> \[--payload <json>\]/);
    expect((await cli("cancel", "--help")).stdout).toMatch(/^Usage: workflowforge cancel <instanceId> <workflowKey> <store> \[--compensate\]/);
    expect((await cli("help", "list")).stdout).toContain("running, failed, compensating, completed, waiting or\n                           cancelled");
  });
});
