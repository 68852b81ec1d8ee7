// A decoded value (the server's typed tree: Date, Map, Set, BigInt, Error, ...) shown as what it is.
import { h } from "./dom.js";

// After a list the server cut at 200 items: how many it left out.
export const moreThan = (size, shown) => (size > shown ? h("span", { className: "v-type more" }, ` … ${size - shown} more`) : null);
// A collection whose items stop early because the answer's budget ran out says so, as well as how many.
const answerFull = "not shown: one answer holds at most 5,000 values";
const more = (node, shown) => (node.cut ? h("span", { className: "v-type more cut" }, ` … ${node.size - shown} more (${answerFull})`) : moreThan(node.size, shown));

export function renderValue(node) {
  const span = (kind, text) => h("span", { className: `value v-${kind}` }, text);
  const nest = (children) => h("div", { className: "v-nest" }, children);
  switch (node.t) {
    case "string": return span("string", [JSON.stringify(node.v), node.truncated ? ` … (${node.truncated} characters)` : ""]);
    case "number": return span("number", node.v);
    case "bigint": return span("bigint", `${node.v}n`);
    case "boolean": return span("number", String(node.v));
    case "null": case "undefined": return span("null", node.t);
    case "date": return h("span", { className: "value" }, span("type", "Date "), span("date", node.v));
    case "regexp": case "other": return span("other", node.v);
    case "circular": return span("type", "[Circular]");
    case "deep": return span("type", "[…]");
    case "cut": return h("span", { className: "value v-type cut" }, `${node.of}, ${answerFull}`);
    case "bytes": return h("span", { className: "value" }, span("type", `${node.name}(${node.size}) `), `[${node.items.join(", ")}]`, more(node, node.items.length));
    case "array": case "set":
      return h("div", { className: "value" }, span("type", `${node.t === "set" ? "Set" : "Array"}(${node.size})`), nest(node.items.map((item) => h("div", {}, renderValue(item)))), more(node, node.items.length));
    case "map":
      return h("div", { className: "value" }, span("type", `Map(${node.size})`), nest(node.entries.map(([key, value]) => h("div", {}, renderValue(key), span("type", " => "), renderValue(value)))), more(node, node.entries.length));
    case "object":
      return h("div", { className: "value" }, span("type", node.name === "Object" ? "{" : `${node.name} {`), nest(node.entries.map(([key, value]) => h("div", {}, span("key", `${key}: `), renderValue(value)))), more(node, node.entries.length), span("type", "}"));
    case "error":
      return h("div", { className: "value" }, span("type", `${node.name}: `), span("string", node.message),
        node.stack === undefined ? null : h("pre", { className: "stack" }, node.stack),
        node.fields.length === 0 ? null : nest(node.fields.map(([key, value]) => h("div", {}, span("key", `${key}: `), renderValue(value)))), node.cut ? h("span", { className: "v-type more cut" }, ` … more fields (${answerFull})`) : null,
        node.cause === undefined ? null : nest([span("type", "cause: "), renderValue(node.cause)]));
    default: return span("other", "?");
  }
}
