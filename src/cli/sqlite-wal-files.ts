import { open, stat } from "node:fs/promises";
import { CliError } from "./errors.js";

// A read-only connection to a WAL database whose -wal or -shm file is missing (no connection has it
// open) creates them, owned by this user with this user's mode, and leaves them when it closes: the
// application, run as the database's owner, then fails on its next write ("attempt to write a
// readonly database"). Not refused: root (SQLite gives the files to the database's owner), the
// database's owner, and anyone reading a database only root may write (its application is root,
// which writes any file). A root-owned database its group or others may write is another user's
// application's: refused as any other owner's. Removing the files afterwards is no answer: the
// application may have opened them meanwhile, and a -shm deleted under a live connection corrupts
// the database.

// Byte 18 of the database header: the file format's write version, 2 in WAL mode.
const walWriteVersion = 2;

/** Throws `CliError` when reading `file` read-only would leave -wal and -shm files its owner cannot write. */
export async function refuseLeavingWalFiles(file: string, label: string): Promise<void> {
  const uid = process.getuid?.();
  const { uid: owner, mode } = await stat(file);
  if (uid === undefined || uid === 0 || owner === uid || (owner === 0 && (mode & 0o022) === 0)) return;
  if ((await exists(`${file}-wal`)) && (await exists(`${file}-shm`))) return;
  if ((await headerByte(file, 18)) !== walWriteVersion) return;
  const advice = "run the command as the database's owner, or while the application has the database open";
  throw new CliError("STORE", `cannot read ${label} as this user: it is a WAL database no connection has open, and reading it would leave -wal and -shm files owned by this user, which the application could not write; ${advice}`);
}

const exists = (path: string): Promise<boolean> => stat(path).then(
  () => true,
  () => false,
);

// The header byte at `offset`, or undefined when the file cannot be read (the open that follows says why).
async function headerByte(file: string, offset: number): Promise<number | undefined> {
  const handle = await open(file, "r").catch(() => undefined);
  if (handle === undefined) return undefined;
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(1), 0, 1, offset);
    return bytesRead === 1 ? buffer[0] : undefined;
  } finally {
    await handle.close();
  }
}
