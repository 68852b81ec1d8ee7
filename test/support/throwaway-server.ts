/** A server started for one test file (or one bench run) on 127.0.0.1 with a throw-away directory. */
export interface ThrowawayServer {
  /** How a client connects, e.g. `postgres://postgres@127.0.0.1:<port>/postgres` or `redis://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Stops the server and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

/** Why a real-server suite did not run, phrased as how to make it run. */
export interface ServerSkipped {
  readonly skipped: string;
}

/**
 * Why a server cannot start, as a skip; with `WORKFLOWFORGE_REQUIRE_SERVERS=1` (set by `.ci/run`,
 * which installs the servers) an error instead, so CI fails rather than passing with a suite unrun.
 */
export function serverSkipped(reason: string, environment: NodeJS.ProcessEnv = process.env): ServerSkipped {
  if (environment.WORKFLOWFORGE_REQUIRE_SERVERS === "1") throw new Error(`${reason} (WORKFLOWFORGE_REQUIRE_SERVERS=1)`);
  return { skipped: reason };
}
