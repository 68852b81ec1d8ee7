import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseCommand } from "../../src/cli/args.js";
import { formatAge, parseDuration } from "../../src/cli/duration.js";
import { cli } from "./run-cli.js";

describe("workflowforge CLI arguments", () => {
  it("prints the overview with examples and exits 0 when run without arguments, with --help or -h", async () => {
    for (const argv of [[], ["--help"], ["-h"], ["help"]]) {
      const { code, stdout, stderr } = await cli(...argv);
      expect(code, argv.join(" ")).toBe(0);
      expect(stderr).toBe("");
      expect(stdout).toMatch(/^workflowforge - inspect and clean up stored workflow snapshots\n/);
      expect(stdout).toContain("Commands:\n  list ");
      expect(stdout).toContain("Examples:\n  workflowforge list --dir ./snapshots\n");
    }
  });

  it("prints one command's page for help <command> and <command> --help", async () => {
    const viaHelp = await cli("help", "prune");
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toMatch(/^Usage: workflowforge prune --older-than <duration> <store>/);
    expect(viaHelp.stdout).toContain("--dry-run");
    expect(await cli("prune", "--help")).toEqual(viaHelp);
    expect((await cli("show", "--help")).stdout).toMatch(/^Usage: workflowforge show <instanceId> <workflowKey>/);
  });

  it("prints the package's version for --version", async () => {
    const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    expect(await cli("--version")).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
  });

  const bad: [string, string[], RegExp][] = [
    ["an unknown option", ["list", "--dir", ".", "--nope"], /^unknown option --nope /],
    ["an option without its value", ["list", "--dir"], /^option '--dir <value>' argument missing$/],
    ["an unknown command", ["lsit", "--dir", "."], /^unknown command "lsit": use list, show, delete, prune, signal, cancel or ui$/],
    ["help for an unknown command", ["help", "lsit"], /^no help for "lsit"/],
    ["options without a command", ["--dir", "."], /^no command given/],
    ["no store", ["list"], /^list needs a store: pass one of --dir, --sqlite, --postgres, --redis or --provider$/],
    ["two stores", ["list", "--dir", ".", "--sqlite", "a.db"], /^pass exactly one store, not --dir and --sqlite$/],
    ["one store twice", ["list", "--dir", "a", "--dir", "b"], /^--dir is given more than once$/],
    ["an empty store location", ["list", "--dir", ""], /^--dir needs a non-empty value$/],
    ["a missing positional", ["show", "order-42", "--dir", "."], /^show needs <instanceId> <workflowKey>; missing <workflowKey>$/],
    ["no positionals", ["delete", "--dir", "."], /^delete needs <instanceId> <workflowKey>; missing <instanceId> <workflowKey>$/],
    ["an extra positional", ["list", "extra", "--dir", "."], /^unexpected argument "extra" for list$/],
    ["a bad duration", ["list", "--dir", ".", "--older-than", "7"], /^--older-than "7" is not a duration: use a whole number and a unit/],
    ["a fractional duration", ["list", "--dir", ".", "--older-than", "1.5h"], /^--older-than "1.5h" is not a duration/],
    ["a timeout of zero", ["list", "--dir", ".", "--timeout", "0s"], /^--timeout "0s" is not a duration from 1ms to 1d: use a whole number and a unit \(ms, s, m, h\)/],
    ["a timeout without a unit", ["list", "--dir", ".", "--timeout", "500"], /^--timeout "500" is not a duration from 1ms to 1d/],
    ["a timeout past a day", ["show", "a", "b", "--dir", ".", "--timeout", "2d"], /^--timeout "2d" is not a duration from 1ms to 1d/],
    ["prune without --older-than", ["prune", "--dir", "."], /^prune needs --older-than <duration>, e.g. --older-than 7d$/],
    ["an empty --workflow", ["list", "--dir", ".", "--workflow", ""], /^--workflow needs a workflow name or workflow key, not ""$/],
    ["an empty --workflow to prune", ["prune", "--dir", ".", "--older-than", "1d", "--workflow", "", "--dry-run"], /^--workflow needs a workflow name or workflow key, not ""$/],
    ["an unknown status", ["list", "--dir", ".", "--status", "failed,done"], /^--status "done" is not one of running, failed, compensating, completed, waiting, cancelled$/],
    ["a filter on show", ["show", "a", "b", "--dir", ".", "--status", "failed"], /^--status does not apply to show \(only to list and prune\)$/],
    ["--dry-run on list", ["list", "--dir", ".", "--dry-run"], /^--dry-run does not apply to list \(only to prune\)$/],
    ["--force on prune", ["prune", "--dir", ".", "--older-than", "1d", "--force"], /^--force does not apply to prune \(only to delete\)$/],
    ["--json on ui, which would ignore it", ["ui", "--dir", ".", "--json"], /^--json does not apply to ui \(only to list and show and delete and prune and signal and cancel\)$/],
    ["--key-prefix with --dir", ["list", "--dir", ".", "--key-prefix", "x:"], /^--key-prefix applies to --redis, not --dir$/],
    ["--schema with --sqlite", ["list", "--sqlite", "a.db", "--schema", "s"], /^--schema applies to --postgres, not --sqlite$/],
  ];

  it.each(bad)("exits 2 with a message and a hint to the help for %s", async (_, argv, message) => {
    const { code, stdout, stderr } = await cli(...argv);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    const [first, hint, ...more] = stderr.split("\n");
    expect(first).toMatch(/^workflowforge: /);
    expect(first?.slice("workflowforge: ".length)).toMatch(message);
    expect(hint).toMatch(/^Run "workflowforge (help (list|show|delete|prune|ui)|--help)" for usage\.$/);
    expect(more).toEqual([""]);
  });

  it("points the hint at the command's own help when the command is known", async () => {
    expect((await cli("show", "x", "--dir", ".")).stderr).toContain('Run "workflowforge help show" for usage.');
    expect((await cli("lsit")).stderr).toContain('Run "workflowforge --help" for usage.');
  });

  it("takes keys that start with a dash after --", () => {
    expect(parseCommand(["show", "--dir", "d", "--", "-odd", "--key"])).toEqual({
      kind: "show",
      store: { kind: "dir", path: "d" },
      keys: { foundryExecutionId: "-odd", workflowId: "--key" },
      timeout: { text: "10s", ms: 10_000 },
      json: false,
    });
  });

  it("says that options go before -- when one is given after it, where it is read as a key", async () => {
    const after = '; options go before "--" (after it, "--sqlite" is an argument, not an option)';
    expect(await cli("show", "--", "-x", "K", "--sqlite", "a.db")).toEqual({ code: 2, stdout: "", stderr: `workflowforge: unexpected argument "--sqlite" for show${after}\nRun "workflowforge help show" for usage.\n` });
    expect((await cli("show", "--", "--sqlite", "a.db")).stderr).toContain(`show needs a store: pass one of --dir, --sqlite, --postgres, --redis or --provider${after}\n`);
    expect((await cli("show", "--sqlite", "a.db", "--", "-x", "K", "extra")).stderr).toMatch(/^workflowforge: unexpected argument "extra" for show\n/);
    expect((await cli("help", "show")).stdout).toContain('A key that starts\nwith "-" goes after "--", and the store and every option before it');
  });

  it("takes --timeout for every store command, 10s when not given", () => {
    expect(parseCommand(["list", "--dir", "d"])).toMatchObject({ timeout: { text: "10s", ms: 10_000 } });
    expect(parseCommand(["list", "--dir", "d", "--timeout", "250ms"])).toMatchObject({ timeout: { text: "250ms", ms: 250 } });
    expect(parseCommand(["delete", "a", "b", "--redis", "redis://h", "--timeout", "1m"])).toMatchObject({ timeout: { text: "1m", ms: 60_000 } });
    expect(parseCommand(["prune", "--sqlite", "a.db", "--older-than", "1d", "--timeout=2s"])).toMatchObject({ timeout: { text: "2s", ms: 2_000 } });
  });

  it("passes store options under the providers' option names", () => {
    const command = parseCommand(["list", "--postgres", "postgres://h/db", "--table-name", "t", "--schema", "s"]);
    expect(command).toMatchObject({ store: { kind: "postgres", url: "postgres://h/db", options: { tableName: "t", schema: "s" } } });
    expect(parseCommand(["list", "--redis", "redis://h"])).toMatchObject({ store: { kind: "redis", url: "redis://h", options: {} } });
  });

  it("refuses a --postgres value without its scheme as a usage error, before any connection (or DNS lookup) is tried", async () => {
    for (const value of ["127.0.0.1:5432/app", "db.example:5432", "app:s3cr3t@127.0.0.1/app"]) {
      expect(() => parseCommand(["list", "--postgres", value]), value).toThrow(expect.objectContaining({ code: "USAGE", message: expect.stringMatching(/^--postgres .* has no postgres:\/\/ or postgresql:\/\/ scheme: pass a URL/) }));
    }
    const { code, stderr } = await cli("list", "--postgres", "app:s3cr3t@127.0.0.1/app");
    expect({ code, stderr }).toEqual({ code: 2, stderr: 'workflowforge: --postgres app:***@127.0.0.1/app has no postgres:// or postgresql:// scheme: pass a URL, e.g. postgres://app@127.0.0.1:5432/app\nRun "workflowforge help list" for usage.\n' });
    for (const value of ["postgres://h/db", "postgresql://h/db", "POSTGRES://h/db", "socket:/var/run/postgresql?db=app", "/var/run/postgresql app"]) {
      expect(parseCommand(["list", "--postgres", value]), value).toMatchObject({ store: { kind: "postgres", url: value } });
    }
  });

  it("merges repeated and comma-separated statuses without duplicates", () => {
    const command = parseCommand(["list", "--dir", "d", "--status", "failed, running", "--status", "failed"]);
    expect(command).toMatchObject({ selection: { statuses: ["failed", "running"] } });
  });
});

describe("durations", () => {
  it("parses a whole number and a unit into milliseconds", () => {
    expect([parseDuration("250ms"), parseDuration("30s"), parseDuration("15m"), parseDuration("2h"), parseDuration("7d"), parseDuration("2w"), parseDuration("0s")]).toEqual([
      250, 30_000, 900_000, 7_200_000, 604_800_000, 1_209_600_000, 0,
    ]);
  });

  it("refuses anything else, and spans too long for a date", () => {
    for (const text of ["7", "d", "1.5h", "-1d", "7 d", "7D", "1h30m", "5 ms", "5mss", "", "1000000000d"]) expect(parseDuration(text), text).toBeUndefined();
  });

  it("formats ages rounded down to their largest unit", () => {
    expect([formatAge(59_999), formatAge(60_000), formatAge(3_600_000), formatAge(47 * 3_600_000), formatAge(49 * 3_600_000), formatAge(-1)]).toEqual([
      "59s", "1m", "1h", "47h", "2d", "in the future",
    ]);
  });
});
