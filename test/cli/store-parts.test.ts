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

  it("shows no part of a password parameter that holds an @, when there is no userinfo", () => {
    expect(redact("postgres://127.0.0.1:5432/app?user=app&password=p@ssw0rd")).toBe("postgres://127.0.0.1:5432/app?user=app&password=***");
    expect(redact("redis://127.0.0.1:6379/0?password=p@ssw0rd")).toBe("redis://127.0.0.1:6379/0?password=***");
    expect(redact("postgres://[::1]:5432/app?password=top@secret")).toBe("postgres://[::1]:5432/app?password=***");
  });

  it("ends the userinfo before the query: an @ in a parameter's value after one without a value is not the userinfo's", () => {
    expect(redact("postgres://a:pw@host/db?ssl&password=p@ss")).toBe("postgres://a:***@host/db?ssl&password=***");
  });

  it("keeps the host of a connection string without userinfo whose parameter holds an @", () => {
    expect(redact("postgres://host:5432/db?application_name=a@b")).toBe("postgres://host:5432/db?application_name=a@b");
    expect(redact("postgres://db:5432/app?sslcert=/keys/a@b.pem")).toBe("postgres://db:5432/app?sslcert=/keys/a@b.pem");
  });

  it("hides a password that holds an & and an =, which are not a query before a ?", () => {
    expect(redact("postgres://app:Xk&9=z@db/app?sslmode=require")).toBe("postgres://app:***@db/app?sslmode=require");
    expect(redact("postgres://app:Xk&9=z@db/app")).toBe("postgres://app:***@db/app");
  });

  it("leaves a connection string without a password as it is", () => {
    expect(redact("redis://127.0.0.1:6379")).toBe("redis://127.0.0.1:6379");
    expect(redact("postgres:///app?host=/var/run/postgresql")).toBe("postgres:///app?host=/var/run/postgresql");
  });
});
