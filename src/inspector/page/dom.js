/* global document, fetch, setTimeout */
// Building the page. Every stored string goes into the DOM as text (text nodes, textContent,
// setAttribute on plain attributes), never parsed as HTML: no module of the page sets markup from a string.

const token = document.querySelector('meta[name="workflowforge-token"]').getAttribute("content");

export function h(tag, props, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "className") element.className = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

export function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
  }
  return element;
}

export function replace(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

/**
 * Like replace(), but `kept`, one of `children`, is never taken out of `element` when it is already
 * in it: the others are put around it. Moving a node drops the focus inside it, and a live refresh
 * must not take the focus from a form being filled in.
 */
export function replaceKeeping(element, kept, ...children) {
  const all = children.flat(Infinity).filter((child) => child !== undefined && child !== null && child !== false);
  const at = all.indexOf(kept);
  if (at === -1 || kept.parentNode !== element) return replace(element, all);
  for (const child of [...element.childNodes]) if (child !== kept) child.remove();
  kept.before(...all.slice(0, at));
  kept.after(...all.slice(at + 1));
  return element;
}

export async function getJson(path) {
  const response = await fetch(path, { headers: { accept: "application/json" } });
  // A refusal from something other than the inspector (a proxy) may carry no JSON: say its status.
  const body = response.ok ? await response.json() : await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

export async function post(path, body) {
  const response = await fetch(path, { method: "POST", headers: { "content-type": "application/json", "x-workflowforge-token": token }, body: JSON.stringify(body) });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
  return answer;
}

export function notify(text, bad) {
  const box = document.getElementById("notice");
  const line = h("div", { className: bad ? "bad" : "" }, text);
  box.append(line);
  setTimeout(() => line.remove(), 6000);
}

export function header(data) {
  replace(document.getElementById("store"), data.store);
  const mode = document.getElementById("mode");
  mode.className = data.allowActions ? "mode actions" : "mode";
  replace(mode, data.allowActions ? "actions allowed" : "read-only");
}

export function markNav(id) {
  for (const link of document.querySelectorAll("header nav a")) link.className = link.id === id ? "active" : "";
}
