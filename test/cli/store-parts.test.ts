import { describe, expect, it } from "vitest";
import { redact } from "../../src/cli/store-parts.js";

describe("redact", () => {
  it("hides a password that holds an unencoded @: the last @ before the host ends the userinfo", () => {
    expect(redact("postgres://app:hunter2@2024@127.0.0.1:1/app")).toBe("postgres://app:***@127.0.0.1:1/app");
    expect(redact("redis://:p@ss@w0rd@cache:6379/2")).toBe("redis://:***@cache:6379/2");
  });

  it("hides a password that holds a slash, a question mark or a hash", () => {
    expect(redact("postgres://app:Zx9/Qw+e@db/app")).toBe("postgres://app:***@db/app");
    expect(redact("postgres://app:a?b#c@db/app")).toBe("postgres://app:***@db/app");
  });

  it("keeps the user, host, port, path and other parameters, even with an @ in a parameter's value", () => {
    expect(redact("postgres://app@db:5432/app?application_name=ops@host")).toBe("postgres://app@db:5432/app?application_name=ops@host");
    expect(redact("postgres://app:s3cr3t@db/app?sslcert=/keys/a@b.pem")).toBe("postgres://app:***@db/app?sslcert=/keys/a@b.pem");
  });

  it("hides every query parameter whose name ends in password or passphrase, whatever its case", () => {
    expect(redact("postgres://db/app?sslpassword=k3yp4ss&user=app&PASSWORD=pw1")).toBe("postgres://db/app?sslpassword=***&user=app&PASSWORD=***");
    expect(redact("rediss://cache?tlsPassphrase=ph1&db=2")).toBe("rediss://cache?tlsPassphrase=***&db=2");
  });

  it("leaves a connection string without a password as it is", () => {
    expect(redact("redis://127.0.0.1:6379")).toBe("redis://127.0.0.1:6379");
    expect(redact("postgres:///app?host=/var/run/postgresql")).toBe("postgres:///app?host=/var/run/postgresql");
  });
});
