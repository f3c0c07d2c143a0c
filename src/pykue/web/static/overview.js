// pykue overview: every queue's counts, refreshed every few seconds. Relative URLs only,
// so the page works wherever the overview app is mounted. Text reaches the DOM as text.
"use strict";

const STATES = ["inactive", "active", "complete", "failed", "delayed", "waiting"];
const REFRESH_MS = 2000;
const TOKEN_KEY = "pykue.token"; // the same key as each queue's dashboard: one origin

function cell(tag, text, className) {
  const node = document.createElement(tag);
  node.textContent = text;
  if (className) node.className = className;
  return node;
}

function queueRow(entry) {
  const row = document.createElement("tr");
  row.dataset.prefix = entry.prefix;
  const name = document.createElement("th");
  name.scope = "row";
  const link = cell("a", entry.prefix);
  link.href = `q/${encodeURIComponent(entry.prefix)}/`;
  name.append(link);
  row.append(name);
  if (entry.error) {
    const error = cell("td", entry.error, "bad");
    error.colSpan = STATES.length + 1;
    row.append(error);
    return row;
  }
  for (const state of STATES) {
    const count = cell("td", entry.counts[state].toLocaleString("en"));
    count.dataset.count = state;
    row.append(count);
  }
  row.append(cell("td", entry.paused.join(", ") || "–", "muted"));
  return row;
}

function totalRow(all, unreachable) {
  const row = document.createElement("tr");
  const name = cell("th", unreachable ? `all reachable (${unreachable} unreachable)` : "all queues");
  name.scope = "row";
  row.append(name);
  for (const state of STATES) {
    const count = cell("td", all[state].toLocaleString("en"));
    count.dataset.count = state;
    row.append(count);
  }
  row.append(cell("td", ""));
  return row;
}

async function refresh() {
  const live = document.getElementById("live");
  try {
    const headers = { Accept: "application/json" };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch("queues", { headers });
    const body = await response.json().catch(() => null);
    document.getElementById("token-form").hidden = response.status !== 401;
    if (!response.ok) throw new Error(body?.error || `${response.status} ${response.statusText}`);
    document.getElementById("queues-body").replaceChildren(...body.queues.map(queueRow));
    document.getElementById("queues-total").replaceChildren(totalRow(body.all, body.unreachable));
    live.dataset.status = "live";
    live.textContent = `Updated ${new Date().toLocaleTimeString("en")}`;
  } catch (err) {
    live.dataset.status = "down";
    live.textContent = `Cannot load the queues: ${err.message}`;
  }
}

document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, document.getElementById("token-input").value.trim());
  refresh();
});
refresh();
setInterval(refresh, REFRESH_MS);
