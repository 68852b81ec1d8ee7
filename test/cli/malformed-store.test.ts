import { describe, expect, it } from "vitest";
import { cli } from "./run-cli.js";

// A store value the driver cannot parse is the command line's mistake, as any other bad argument.
describe("workflowforge CLI with a malformed store value", () => {
  it.each([
    ["a Redis port out of range", "--redis", "redis://127.0.0.1:99999", "invalid --redis redis://127.0.0.1:99999: "],
    ["a Redis URL with a bad percent escape", "--redis", "redis://app:50%@127.0.0.1:6379", "invalid --redis redis://app:***@127.0.0.1:6379: "],
    ["a Redis database that is no number, in the path", "--redis", "redis://app:Zx9@127.0.0.1:6379/abc", 'invalid --redis redis://app:***@127.0.0.1:6379/abc: the database (its path) must be a whole number, got "abc"'],
    ["a Redis database that is no number, as db=", "--redis", "redis://127.0.0.1:6379?db=1x", 'invalid --redis redis://127.0.0.1:6379?db=1x: the database (its db parameter) must be a whole number, got "1x"'],
    ["a Redis database that is no number, in a URL without its scheme", "--redis", "//127.0.0.1:6379/abc", 'invalid --redis //127.0.0.1:6379/abc: the database (its path) must be a whole number, got "abc"'],
    ["a Redis database that is no number, after a socket path", "--redis", "/run/redis.sock?db=abc", 'invalid --redis /run/redis.sock?db=abc: the database (its db parameter) must be a whole number, got "abc"'],
    ["a PostgreSQL port out of range", "--postgres", "postgres://127.0.0.1:99999/app", "invalid --postgres postgres://127.0.0.1:99999/app: "],
    ["a PostgreSQL URL with a slash in its password", "--postgres", "postgres://app:Zx9/Qw+e@127.0.0.1:1/app", "invalid --postgres postgres://app:***@127.0.0.1:1/app: "],
    ["a file URL with a host", "--provider", "file://host/store.mjs", "invalid --provider file://host/store.mjs: "],
  ])("exits 2 naming the flag for %s", async (_, flag, value, message) => {
    const { code, stdout, stderr } = await cli("list", flag, value, "--timeout", "2s");
    expect([code, stdout]).toEqual([2, ""]);
    expect(stderr.startsWith(`workflowforge: ${message}`)).toBe(true);
    expect(stderr).toContain('Run "workflowforge help list" for usage.');
    expect(stderr).not.toMatch(/Zx9|Qw\+e|50%/);
  });
});
