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
