// Reading what an operation threw. Anything can be thrown, and each reading of it can throw in
// turn (a getter, a cycle or a BigInt for JSON, a null-prototype object for String(), a revoked
// proxy for everything): a failure must be reported as the operation's, never replaced by the
// error of describing it.

/** The placeholder for a thrown value of which nothing could be read. */
export const unreadableMessage = "(a value whose message could not be read)";

/** `value instanceof Error`, false for a revoked proxy (which refuses to give its prototype). */
export function isError(value: unknown): value is Error {
  try {
    return value instanceof Error;
  } catch {
    return false;
  }
}

/** The message of anything thrown: an error's, a string itself, else its JSON, else its text or tag. */
export function messageOf(value: unknown): string {
  if (typeof value === "string") return value;
  if (isError(value)) return errorMessage(value);
  return textOf(() => JSON.stringify(value)) ?? textOf(() => String(value)) ?? textOf(() => Object.prototype.toString.call(value)) ?? unreadableMessage;
}

/**
 * The longest thrown value's message another error's message quotes: the value itself stays its
 * `cause`. Under the 4,000 a failure record keeps of a message, so that a record of the wrapper
 * still ends with the quoted cut, which says how long the thrown message was.
 */
export const maxQuotedMessage = 3_000;

/**
 * {@link messageOf}, cut to {@link maxQuotedMessage} characters: what an error's own message quotes
 * of its cause, so that a thrown HTTP body of megabytes is not copied into every message and log line.
 */
export function quotedMessageOf(value: unknown): string {
  return bounded(messageOf(value), maxQuotedMessage);
}

/** `text` cut to `max` characters, the cut marked with how long it was; never between the halves of a surrogate pair. */
export function bounded(text: string, max: number): string {
  if (text.length <= max) return text;
  const marker = `\n… (${text.length} characters, cut)`;
  let end = max - marker.length;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return text.slice(0, end) + marker;
}

// An Error's message, which may be anything: a string as it is, anything else described as a
// thrown value is (an object as its JSON), `undefined` as that word.
function errorMessage(error: Error): string {
  let message: unknown;
  try {
    message = error.message;
  } catch {
    return unreadableMessage;
  }
  if (typeof message === "string") return message;
  if (message === undefined || isError(message)) return textOf(() => String(message)) ?? unreadableMessage;
  return messageOf(message);
}

// What `read()` returns, as text (a number as its digits); undefined when it is undefined, or reading or converting it throws.
function textOf(read: () => unknown): string | undefined {
  try {
    const text = read();
    // An Error's message can be anything (a status code, an object): its text, whatever it is.
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- "[object Object]" is still text
    return typeof text === "string" || text === undefined ? text : String(text);
  } catch {
    return undefined;
  }
}
