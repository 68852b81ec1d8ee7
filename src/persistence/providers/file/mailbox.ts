// An instance's mailbox: a directory next to its record (`<name>.events`) holding one file per
// delivered event, named for its eventId. A delivery writes the event into a file of its own and
// hard-links it to that name: link() fails when the name exists, so the first delivery of an id
// wins, across processes and provider objects, and an event appears with its whole content.
// Everything here throws the plain `fs` error, or SnapshotCorruptedError for an unreadable event.

import { randomBytes } from "node:crypto";
import { link, lstat, mkdir, readdir, rename, rm, unlink } from "node:fs/promises";
import { join } from "node:path";
import { messageOf } from "../../../errors.js";
import type { SnapshotCodec } from "../../codec/codec.js";
import { SnapshotCorruptedError, describeKeys, type SnapshotKeys } from "../../errors.js";
import type { DeliveredEvent } from "../../mailbox.js";
import { throwIfAborted } from "../shared.js";
import { decodePayload } from "../stored.js";
import { readListed } from "./directory.js";
import { byDelivery, parseEvent, type EventHeader } from "./event.js";
import { UnreadableEntryError, absent, errorCode, ignore, syncDirectory } from "./fs.js";
import { writeOwnFile } from "./lock.js";
import { isEventFileName, temporaryFileName } from "./names.js";
import { thisOwner } from "./owner.js";

/** Where an instance's events go: the provider's directory, the mailbox in it, and the event's file. */
export interface EventPaths {
  readonly directory: string;
  readonly mailbox: string;
  readonly file: string;
}

// A delete may remove the mailbox between a delivery's mkdir and its link; the delivery then makes
// it again. Past a few rounds, something else keeps removing it.
const mailboxAttempts = 5;

// Links `from` to `to`: true once linked, false when `to` exists, undefined when its directory does not.
async function linkNew(from: string, to: string): Promise<boolean | undefined> {
  try {
    await link(from, to);
    return true;
  } catch (error) {
    if (errorCode(error) === "EEXIST") return false;
    if (errorCode(error) === "ENOENT") return undefined;
    throw error;
  }
}

// Creates the mailbox; false when it exists already.
async function makeMailbox(mailbox: string): Promise<boolean> {
  try {
    await mkdir(mailbox);
    return true;
  } catch (error) {
    if (errorCode(error) === "EEXIST") return false;
    throw error;
  }
}

/**
 * Whether the mailbox is there, a directory. Anything else under its name throws
 * UnreadableEntryError, a symbolic link included: followed, the events would go to (and be read
 * from) its target outside the provider's directory, which a delete, removing the link, leaves.
 */
async function hasMailbox(mailbox: string): Promise<boolean> {
  const stats = await lstat(mailbox).catch(absent);
  if (stats === undefined) return false;
  if (stats.isDirectory()) return true;
  throw new UnreadableEntryError(mailbox, stats.isSymbolicLink() ? "it is a symbolic link" : "it is not a directory");
}

/**
 * Stores the event file `text` at `paths.file` unless a file is there already; resolves whether
 * it stored it. The text is written (and, with `durable`, flushed) into a temporary file in the
 * provider's directory, where the sweep of a dead writer's leftovers finds it, and linked into the
 * mailbox, which is created on first delivery.
 */
export async function storeEvent(paths: EventPaths, text: string, durable: boolean): Promise<boolean> {
  await hasMailbox(paths.mailbox);
  const own = await writeOwnFile(paths.directory, text, durable);
  try {
    for (let attempt = 1; ; attempt++) {
      const stored = await linkNew(own.path, paths.file);
      if (stored !== undefined) {
        // A delete may move the mailbox aside between the link and its flush: the event was stored,
        // before that delete, which took it (as it takes an event delivered just before it).
        if (stored && durable) await syncDirectory(paths.mailbox).catch(absent);
        return stored;
      }
      if (attempt === mailboxAttempts) throw new Error(`the mailbox ${paths.mailbox} was gone at each of ${attempt} attempts to link the event into it (deleted meanwhile, each time)`);
      if ((await makeMailbox(paths.mailbox)) && durable) await syncDirectory(paths.directory);
    }
  } finally {
    await Promise.all([own.closed, unlink(own.path).catch(ignore)]);
  }
}

interface ReadEvent {
  readonly file: string;
  readonly header: EventHeader;
  readonly body: string;
}

// One event file, parsed and checked against the instance and the name it is stored under.
async function readEvent(mailbox: string, file: string, keys: SnapshotKeys, fileNameFor: (eventId: string) => string): Promise<ReadEvent | undefined> {
  const path = join(mailbox, file);
  const listed = await readListed(path);
  if (listed === undefined) return undefined; // deleted since readdir
  if (!("text" in listed)) throw new SnapshotCorruptedError(keys, `the event file ${path} cannot be read: ${listed.unreadable}`, listed.cause);
  let event: ReturnType<typeof parseEvent>;
  try {
    event = parseEvent(listed.text);
  } catch (error) {
    throw new SnapshotCorruptedError(keys, `the event file ${path}: ${messageOf(error)}`, error);
  }
  const { header } = event;
  if (header.foundryExecutionId !== keys.foundryExecutionId || header.workflowId !== keys.workflowId) {
    throw new SnapshotCorruptedError(keys, `the event file ${path} holds an event of ${describeKeys(header)}`);
  }
  if (fileNameFor(header.eventId) !== file) throw new SnapshotCorruptedError(keys, `the event file ${path} is not the file named for its eventId`);
  return { file, ...event };
}

/** What receive() needs to read a mailbox: its path, whose it is, the names of its event files and the codec of its payloads. */
export interface MailboxReader {
  readonly mailbox: string;
  readonly keys: SnapshotKeys;
  readonly fileNameFor: (eventId: string) => string;
  readonly codec: SnapshotCodec;
}

const readBatch = 32;

/**
 * The events named `name` in the mailbox, oldest delivery first; [] when there is none. Reads every
 * event file (32 at a time) and decodes the payloads of those with that name. Entries not named
 * like an event are not events and are passed over; an event file that cannot be read or parsed
 * rejects the call with SnapshotCorruptedError naming it, since leaving it out would lose an event.
 */
export async function readMailbox(reader: MailboxReader, name: string, signal: AbortSignal | undefined): Promise<DeliveredEvent[]> {
  if (!(await hasMailbox(reader.mailbox))) return [];
  const files = (await readdir(reader.mailbox).catch(absent))?.filter(isEventFileName) ?? [];
  const found: ReadEvent[] = [];
  for (let start = 0; start < files.length; start += readBatch) {
    throwIfAborted(signal);
    const batch = await Promise.all(files.slice(start, start + readBatch).map((file) => readEvent(reader.mailbox, file, reader.keys, reader.fileNameFor)));
    for (const event of batch) if (event !== undefined && event.header.name === name) found.push(event);
  }
  return found.sort(byDelivery).map(({ file, header, body }) => {
    const { foundryExecutionId, workflowId, eventId, sentAt } = header;
    return { foundryExecutionId, workflowId, name, eventId, sentAt, payload: payloadOf(reader, body, join(reader.mailbox, file)) };
  });
}

function payloadOf(reader: MailboxReader, body: string, path: string): unknown {
  try {
    return decodePayload(reader.codec, body, reader.keys);
  } catch (error) {
    // The codec's error names the keys, not the file; a stack overflow is no damage to the file.
    if (error instanceof RangeError) throw error;
    const reason = messageOf(error).replace(/^\[workflowforge:[a-z]+\] stored snapshot for .* is corrupted: /, "");
    throw new SnapshotCorruptedError(reader.keys, `the event file ${path}: its payload does not decode: ${reason}`, error);
  }
}

/**
 * Moves the mailbox out of its name in one rename, to a writer's own name in the provider's
 * directory, and returns what removes it. A delivery after the rename makes a new mailbox, which
 * this delete leaves to the next instance of the keys: the rename is the moment of the delete, and
 * no event stored after it is lost to it. A crash before the removal leaves a directory under a
 * writer's own name, which the sweep of a dead writer's leftovers removes.
 */
export async function detachMailbox(directory: string, mailbox: string, durable: boolean): Promise<() => Promise<void>> {
  const detached = join(directory, temporaryFileName(thisOwner(), randomBytes(8).toString("hex")));
  // No mailbox: nothing to remove.
  if ((await rename(mailbox, detached).then(() => true, absent)) === undefined) return () => Promise.resolve();
  return async () => {
    await rm(detached, { recursive: true, force: true });
    if (durable) await syncDirectory(directory);
  };
}
