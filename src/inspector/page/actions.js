/* global document, window, location */
// The instance page's actions (with --allow-actions): retry a dead letter, delete, cancel (with or
// without compensation) and send an event. Each is a POST through dom.js's post(), which carries
// the page's token; the server refuses them all without --allow-actions.
import { h, notify, post, replace } from "./dom.js";

const finished = (row) => row.status === "completed" || row.status === "cancelled";

/**
 * The actions of one instance view. The live refresh calls the returned function with each answer:
 * it rebuilds the buttons (they carry the row's revision), but builds the send-event form once and
 * keeps it in the same section, so a refresh never wipes what someone is typing into it.
 */
export function actionsPanel(keys, refresh) {
  const buttons = h("span", { id: "action-buttons" });
  const section = h("section", { id: "actions" }, h("h2", {}, "Actions"), buttons);
  let form = null;
  return (data) => {
    if (!data.allowActions) return null;
    replace(buttons, actionButtons(data.row, keys, refresh));
    const sends = data.mailbox && !finished(data.row);
    if (sends && form === null) form = sendEvent(keys, data.row, refresh);
    if (sends && form.parentNode !== section) section.append(form);
    if (!sends && form !== null) form.remove();
    return section;
  };
}

function actionButtons(row, keys, refresh) {
  const run = (path, confirmText, done, body = {}) => async (event) => {
    if (!window.confirm(confirmText)) return;
    const { id } = event.target;
    event.target.disabled = true;
    try {
      await post(path, { ...keys, ...body });
      notify(done);
      if (path === "/api/delete") location.hash = "#/";
      else await refresh();
    } catch (error) {
      notify(error.message, true);
      event.target.disabled = false;
    }
    refocus(id, event.target);
  };
  const cancel = finished(row) ? null : [
    h("button", { id: "cancel", className: "danger", onclick: run("/api/cancel", "Cancel this instance? It will not run again.", "Cancelled.") }, "Cancel"), " ",
    h("button", { id: "cancel-compensate", className: "danger", onclick: run("/api/cancel", "Cancel this instance and undo its completed steps?", "Cancelling: a recovery coordinator undoes its steps.", { compensate: true }) }, "Cancel and compensate"), " ",
  ];
  return [
    row.deadLetter ? h("button", { id: "retry", onclick: run("/api/retry", "Retry this dead letter? A recovery coordinator resumes it.", "Retried: its attempts are back at 0.") }, "Retry dead letter") : null, " ",
    cancel,
    h("button", { id: "delete", className: "danger", onclick: run("/api/delete", "Delete this snapshot? The instance would start over.", "Deleted.", { revision: row.revision }) }, "Delete"),
  ];
}

// A disabled button loses the focus, and a refresh rebuilds the buttons: a keyboard user gets it
// back on the button (as drawn now) that did the action, or on the actions when it is gone. Not
// when the user went elsewhere meanwhile (typing into the event form, say): that keeps the focus.
function refocus(id, from) {
  const active = document.activeElement;
  if (active !== null && active !== document.body && active !== from) return;
  const target = document.getElementById(id) ?? document.getElementById("actions");
  if (target === null) return;
  if (target.id === "actions") target.setAttribute("tabindex", "-1");
  target.focus();
}

// Event name (the one it waits for, when waiting), a JSON payload and an optional event id. A sent
// event clears the payload and the id; a refused one leaves them to be corrected.
function sendEvent(keys, row, refresh) {
  const name = h("input", { id: "event-name", value: row.waitingFor ?? "", "aria-label": "event name" });
  const payload = h("textarea", { id: "event-payload", rows: "3", placeholder: '{"by": "ann"} (JSON; empty for none)', "aria-label": "payload" });
  const eventId = h("input", { id: "event-id", placeholder: "optional: the same id is delivered once", "aria-label": "event id" });
  const send = async (event) => {
    let body;
    try {
      body = { ...keys, event: name.value, ...(payload.value.trim() === "" ? {} : { payload: JSON.parse(payload.value) }), ...(eventId.value === "" ? {} : { eventId: eventId.value }) };
    } catch (error) {
      notify(`The payload is not valid JSON: ${error.message}`, true);
      return;
    }
    event.target.disabled = true;
    try {
      const answer = await post("/api/signal", body);
      notify(answer.stored ? `Sent event "${answer.event}" (id ${answer.eventId}).` : `Event id ${answer.eventId} was already delivered: nothing changed.`);
      payload.value = "";
      eventId.value = "";
      await refresh();
    } catch (error) {
      notify(error.message, true);
    }
    event.target.disabled = false;
    refocus("send", event.target);
  };
  return h("div", { className: "send", id: "send-event" },
    h("label", { for: "event-name" }, "event"), name,
    h("label", { for: "event-payload" }, "payload"), payload,
    h("label", { for: "event-id" }, "event id"), eventId,
    h("span"), h("div", {}, h("button", { id: "send", type: "button", onclick: send }, "Send event")));
}
