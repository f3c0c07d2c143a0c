// pykue dashboard: plain DOM, no build step. Every URL is relative so the app can be
// mounted under any prefix. Job text only ever reaches the DOM through text nodes.
"use strict";

const STATES = ["inactive", "active", "complete", "failed", "delayed", "waiting"];
const PRIORITIES = { low: 10, normal: 0, medium: -5, high: -10, critical: -15 };
const PAGE_SIZE = 50;
const TOKEN_KEY = "pykue.token";

// Where an event moves a job: [from, to]; null means unknown (or gone).
const MOVES = {
  enqueue: (ev) => [null, ev.state || "inactive"], // waiting (or failed) with dependencies
  ready: (ev) => ["waiting", ev.state || null], // its dependencies are done
  start: () => ["inactive", "active"],
  complete: () => ["active", "complete"],
  // a worker's last attempt, or a dependency that failed while the job was waiting
  failed: (ev) => [knownState(ev.id), "failed"],
  "failed attempt": () => ["active", null], // back to inactive or delayed: a refetch tells
  stalled: () => ["active", "inactive"],
  released: () => ["active", "inactive"],
  promotion: () => ["delayed", "inactive"],
  retry: () => ["failed", null], // inactive, or waiting again for its dependencies
  remove: (ev) => [knownState(ev.id), null],
  state: (ev) => [ev.from || null, ev.to || null],
};

const ui = {
  state: "active",
  type: "",
  page: 0,
  counts: {},
  types: new Map(), // type -> {type, paused, counts, limits}
  schedules: [], // as GET schedules answers, sorted by key
  schedulesKey: "", // what the schedules table shows, to skip re-renders
  scheduleTimer: null, // reloads the schedules just after the next one is due
  openJob: null, // id of the job shown in the panel
  panelKey: "", // what the panel shows, to skip re-renders that would reset it
  panelData: null, // the answers the panel was last drawn from
  panelLinks: new Set(), // ids of the jobs the panel lists: their events redraw it
  refusal: null, // {id, text}: the open job's removal was refused, as jobs wait for it
  // job id -> the state its latest event moved it to: where its next move starts from
  states: new Map(),
  listLoads: 0, // sequence number of job-list fetches: only the newest one renders
  // job id -> latest percent from the event stream: fresher than a list fetched meanwhile
  progress: new Map(),
  minutes: [],
  tokenReads: false, // reads need the token too (pykue dashboard --token-reads)
  events: null, // the EventSource
};

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
const rowOf = (id) => $(`#job-list [data-job-id="${CSS.escape(String(id))}"]`);
const rowState = (id) => rowOf(id)?.dataset.state ?? null;
const knownState = (id) => ui.states.get(id) ?? rowState(id);
const scheduleRowOf = (key) => $(`#schedules-body [data-schedule-key="${CSS.escape(key)}"]`);

// ---------------------------------------------------------------- small helpers

/** Create an element; string children become text nodes (never parsed as HTML). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  node.append(...present(children.flat()).map((c) => (c instanceof Node ? c : visible(String(c)))));
  return node;
}

// Bidirectional controls (U+202E...) in job text would reorder what follows them on
// screen: they are shown as escapes instead.
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const visible = (text) =>
  text.replace(BIDI, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

const present = (items) => items.filter((c) => c != null && c !== false);

/** Run fn once within `ms`, however many times it is asked for meanwhile. */
const timers = {};
function later(name, fn, ms) {
  if (timers[name]) return;
  timers[name] = setTimeout(() => {
    timers[name] = null;
    fn();
  }, ms);
}

// A Date holds ±8.64e15 ms; a time beyond it (a corrupt or hand-written job) must not
// throw "Invalid time value" and empty the whole list.
const isTime = (ms) => typeof ms === "number" && Math.abs(ms) <= 8.64e15;

function formatTime(ms) {
  if (!ms) return "—";
  if (!isTime(ms)) return `invalid time (${ms})`;
  return new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });
function ago(ms) {
  const secs = Math.round((ms - Date.now()) / 1000);
  const [size, unit] = [[86400, "day"], [3600, "hour"], [60, "minute"], [1, "second"]]
    .find(([s]) => Math.abs(secs) >= s) || [1, "second"];
  return relative.format(Math.round(secs / size), unit);
}

function timeEl(ms) {
  if (!ms) return el("span", { class: "muted" }, "—");
  if (!isTime(ms)) return el("span", { class: "muted", title: String(ms) }, "invalid time");
  return el("time", { datetime: new Date(ms).toISOString(), title: formatTime(ms), "data-ms": ms },
    ago(ms));
}

function priorityName(value) {
  return Object.keys(PRIORITIES).find((k) => PRIORITIES[k] === value) ?? String(value);
}

const pretty = (value) => (typeof value === "string" ? value : JSON.stringify(value, null, 2));
const percentOf = (job) => (ui.progress.has(job.id) ? ui.progress.get(job.id) : job.progress);
const clampPercent = (p) => Math.max(0, Math.min(100, Math.round(Number(p) || 0)));

// ---------------------------------------------------------------- messages and API

function showMessage(text, kind = "info") {
  const box = $("#messages");
  const msg = el("div", { class: `message ${kind}`, role: kind === "error" ? "alert" : null },
    el("span", {}, text),
    el("button", { type: "button", class: "close", "aria-label": "Dismiss message",
      onclick: () => msg.remove() }, "×"));
  box.append(msg);
  while (box.children.length > 3) box.firstElementChild.remove();
  if (kind !== "error") setTimeout(() => msg.remove(), 5000);
}

async function api(method, path) {
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, { method, headers });
  const body = await response.json().catch(() => null); // a proxy's HTML error page, say
  if (response.status === 401) askToken(); // a write, or any read with --token-reads
  if (!response.ok) {
    const error = new Error(body?.error || `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

/** Send a write request and report the outcome; `describe` words the success. */
async function act(method, path, describe = (body) => body?.message || "Done") {
  try {
    showMessage(describe(await api(method, path)), "ok");
    refreshAll();
  } catch (err) {
    showMessage(err.message, "error");
  }
}

function askToken() {
  $("#token-form").hidden = false;
  $("#token-input").focus();
}

function setupToken(required) {
  const form = $("#token-form");
  const input = $("#token-input");
  form.hidden = !required;
  input.value = sessionStorage.getItem(TOKEN_KEY) || "";
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    $$(".message.error").forEach((m) => m.remove()); // most likely the 401 it answers
    showMessage(input.value.trim() ? "Token saved for this tab" : "Token cleared", "ok");
    refreshAll();
    if (ui.tokenReads) connectEvents(); // the stream carries the token in its URL
  });
}

// ---------------------------------------------------------------- counts and types

async function loadCounts() {
  try {
    const [stats, types] = await Promise.all([api("GET", "stats"), api("GET", "types")]);
    for (const state of STATES) ui.counts[state] = stats[`${state}Count`] ?? 0;
    ui.types = new Map(types.map((t) => [t.type, t]));
    renderCounts();
  } catch (err) {
    showMessage(`Could not load counts: ${err.message}`, "error");
  }
}

/** Apply a move to the counts at once; the debounced refetch corrects any guess. */
function adjustCounts(type, from, to) {
  const typeCounts = ui.types.get(type)?.counts;
  for (const [state, delta] of [[from, -1], [to, 1]]) {
    if (!state || !(state in ui.counts)) continue;
    ui.counts[state] = Math.max(0, ui.counts[state] + delta);
    if (typeCounts) typeCounts[state] = Math.max(0, (typeCounts[state] || 0) + delta);
  }
  renderCounts();
}

function renderCounts() {
  for (const state of STATES) {
    const value = ui.counts[state];
    $(`[data-count="${state}"]`).textContent = value == null ? "–" : value.toLocaleString();
  }
  renderTypes();
  renderPager();
}

/** Update the types table in place, so focus and clicks survive live updates. */
function renderTypes() {
  const body = $("#types-body");
  const names = [...ui.types.keys()].sort();
  const rows = names.map((name) => {
    const row = [...body.rows].find((r) => r.dataset.rowType === name) || typeRow(name);
    updateTypeRow(row, ui.types.get(name));
    return row;
  });
  if (rows.length !== body.rows.length || rows.some((r, i) => body.rows[i] !== r)) {
    body.replaceChildren(...rows);
  }
  $("#types-empty").hidden = names.length > 0;
  renderTypeFilter(names);
}

function typeRow(name) {
  const toggle = () => {
    const action = ui.types.get(name)?.paused ? "resume" : "pause";
    act("POST", `types/${encodeURIComponent(name)}/${action}`, (body) => {
      setPaused(name, body.paused);
      return `Type ${name} ${body.paused ? "paused" : "resumed"}`;
    });
  };
  return el("tr", { "data-row-type": name },
    el("th", { scope: "row" },
      el("button", { type: "button", class: "link", title: `Show only ${name} jobs`,
        onclick: () => showList(ui.state, name) }, name),
      el("span", { class: "badge paused", hidden: true }, "paused"),
      el("span", { class: "type-limits", "data-limits": "" })),
    STATES.map((state) => el("td", { class: "num", "data-type-count": state })),
    el("td", {}, el("button", { type: "button", class: "small", "data-type": name, onclick: toggle })));
}

/** "100/60s": a rate as {count, per} (per in seconds). */
const rateText = (rate) => `${rate.count}/${Number(Number(rate.per).toFixed(3))}s`;

/** A type's limits in a few words each, e.g. ["rate 100/60s", "max 5", "per key 10/1s"]. */
const limitParts = (limits) => present([
  limits?.rate && `rate ${rateText(limits.rate)}`,
  limits?.concurrency != null && `max ${limits.concurrency}`,
  limits?.key_rate && `per key ${rateText(limits.key_rate)}`,
]);

function updateTypeRow(row, info) {
  row.classList.toggle("paused", Boolean(info.paused));
  $(".badge", row).hidden = !info.paused;
  for (const cell of $$("[data-type-count]", row)) {
    cell.textContent = String(info.counts?.[cell.dataset.typeCount] ?? 0);
  }
  // "rate 100/60s · max 5 · per key 10/1s", each part kept on one line; "—" for none
  const parts = limitParts(info.limits);
  const limits = $("[data-limits]", row);
  const shown = parts.flatMap((part, i) => [i ? " · " : "", el("span", { class: "nowrap" }, part)]);
  limits.replaceChildren(...(parts.length ? shown : ["—"]));
  limits.title = parts.length ? `limits of ${info.type}: ${parts.join(", ")}` : "no limits";
  const button = $("button[data-type]", row);
  const verb = info.paused ? "Resume" : "Pause";
  button.dataset.action = verb.toLowerCase();
  button.textContent = verb;
  button.setAttribute("aria-label", `${verb} type ${info.type}`);
}

function setPaused(type, paused) {
  const info = ui.types.get(type);
  if (!info) return later("counts", loadCounts, 300);
  info.paused = Boolean(paused);
  renderTypes();
}

function renderTypeFilter(names) {
  const select = $("#type-filter");
  const wanted = ["", ...names];
  if (ui.type && !names.includes(ui.type)) wanted.push(ui.type);
  if (wanted.join("\n") === [...select.options].map((o) => o.value).join("\n")) return;
  select.replaceChildren(...wanted.map((n) => el("option", { value: n }, n || "All types")));
  select.value = ui.type;
}

// ---------------------------------------------------------------- job list

function renderPager() {
  const total = ui.type ? ui.types.get(ui.type)?.counts?.[ui.state] ?? 0 : ui.counts[ui.state] ?? 0;
  const first = ui.page * PAGE_SIZE;
  const shown = $("#job-list").children.length;
  $("#page-info").textContent = shown
    ? `${first + 1}–${first + shown} of ${Math.max(total, first + shown).toLocaleString()}`
    : "";
  $("#prev-page").disabled = ui.page === 0;
  $("#next-page").disabled = first + PAGE_SIZE >= total;
}

async function loadJobs() {
  const load = ++ui.listLoads;
  const from = ui.page * PAGE_SIZE;
  const type = ui.type ? `${encodeURIComponent(ui.type)}/` : "";
  try {
    const jobs = await api("GET", `jobs/${type}${ui.state}/${from}..${from + PAGE_SIZE - 1}/desc`);
    if (load !== ui.listLoads) return; // a newer fetch (maybe of another list) supersedes it
    if (!jobs.length && ui.page > 0) {
      ui.page -= 1;
      return loadJobs();
    }
    renderJobs(jobs);
  } catch (err) {
    showMessage(`Could not load ${ui.state} jobs: ${err.message}`, "error");
  }
}

/** Reuse rows whose job did not change, so a refetch does not eat a click or the focus. */
function renderJobs(jobs) {
  const list = $("#job-list");
  const focusedId = document.activeElement?.closest?.("#job-list [data-job-id]")?.dataset.jobId;
  const items = jobs.map((job) => {
    const key = JSON.stringify({ ...job, progress: 0, progress_data: 0, updated_at: 0 });
    const old = rowOf(job.id);
    if (old && old.dataset.key === key) {
      setProgress(old, percentOf(job));
      return old.parentElement;
    }
    const row = jobRow(job);
    row.dataset.key = key;
    return el("li", {}, row);
  });
  if (items.length !== list.children.length || items.some((li, i) => list.children[i] !== li)) {
    list.replaceChildren(...items);
  }
  $("#job-list-empty").hidden = jobs.length > 0;
  if (focusedId && document.activeElement === document.body) rowOf(focusedId)?.focus();
  markOpenRow();
  renderPager();
}

function stateTime(job) {
  const at = { active: job.started_at, complete: job.completed_at, failed: job.failed_at,
    delayed: job.run_at }[job.state];
  return at || job.created_at;
}

function jobRow(job) {
  const priority = priorityName(job.priority);
  const attrs = { href: `#job/${job.id}`, class: "job-row", "data-job-id": job.id,
    "data-state": job.state, "data-corrupt": job.corrupt ? "true" : null };
  return el("a", attrs,
    el("span", { class: "job-id" }, `#${job.id}`),
    el("span", { class: "job-type" }, job.type,
      job.corrupt && el("span", { class: "badge corrupt" }, "corrupt")),
    el("span", { class: "job-meta" },
      el("span", { class: `prio prio-${priority}` }, priority),
      el("span", { title: "attempts made / allowed" },
        `${job.attempts?.made ?? 0}/${job.attempts?.max ?? 1}`),
      job.state === "waiting" && el("span", { title: "dependencies not done yet" },
        `waits for ${job.pending_dependencies ?? "?"}`),
      timeEl(stateTime(job))),
    progressBar(percentOf(job), `Progress of job ${job.id}`),
    job.state === "failed" && job.error && el("span", { class: "job-error" }, job.error),
    job.corrupt && el("span", { class: "job-corrupt" }, `Corrupt job: ${job.corrupt}`));
}

function progressBar(percent, label) {
  const value = clampPercent(percent);
  const fill = el("span", { class: "bar-fill" });
  fill.style.width = `${value}%`;
  return el("span", { class: "progress" },
    el("span", { class: "bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100,
      "aria-valuenow": value, "aria-label": label }, fill),
    el("span", { class: "bar-text", "aria-hidden": "true" }, `${value}%`));
}

function setProgress(container, percent) {
  const bar = container && $('[role="progressbar"]', container);
  if (!bar) return;
  const value = clampPercent(percent);
  bar.setAttribute("aria-valuenow", String(value));
  $(".bar-fill", bar).style.width = `${value}%`;
  bar.nextElementSibling.textContent = `${value}%`;
}

function markOpenRow() {
  for (const row of $$("#job-list [data-job-id]")) {
    row.setAttribute("aria-current", String(String(ui.openJob) === row.dataset.jobId));
  }
}

/** Show the first page of jobs in `state`, of `type` ("" for all types). */
function showList(state, type) {
  Object.assign(ui, { state, type, page: 0 });
  for (const tab of $$("[data-state-tab]")) {
    tab.setAttribute("aria-pressed", String(tab.dataset.stateTab === state));
  }
  $("#type-filter").value = type;
  $("#job-list").replaceChildren();
  loadJobs();
}

// ---------------------------------------------------------------- schedules

async function loadSchedules() {
  try {
    ui.schedules = (await api("GET", "schedules")).schedules || [];
    renderSchedules();
  } catch (err) {
    showMessage(`Could not load schedules: ${err.message}`, "error");
  }
}

function renderSchedules() {
  const key = JSON.stringify(ui.schedules);
  if (key !== ui.schedulesKey) {
    ui.schedulesKey = key;
    const focused = document.activeElement?.closest?.("#schedules-body [data-schedule-key]");
    $("#schedules-body").replaceChildren(...ui.schedules.map(scheduleRow));
    if (focused) { // the keyboard stays on the same schedule's row, or its heading if gone
      const row = scheduleRowOf(focused.dataset.scheduleKey);
      (row ? $('[data-action="unschedule"]', row) : $("#schedules-heading")).focus();
    }
  }
  $("#schedules-empty").hidden = ui.schedules.length > 0;
  $("#schedules .table-wrap").hidden = ui.schedules.length === 0; // no header over nothing
  // each run moves the schedule's next run and last job: look again just after the next
  // one is due (every 30 s while one is overdue: no worker is running to make its job)
  clearTimeout(ui.scheduleTimer);
  const next = Math.min(...ui.schedules.map((s) => (isTime(s.next_run_at) ? s.next_run_at : Infinity)));
  if (Number.isFinite(next)) {
    const untilNext = next - Date.now();
    const wait = untilNext > 0 ? Math.max(2000, Math.min(60_000, untilNext + 1500)) : 30_000;
    ui.scheduleTimer = setTimeout(() => later("schedules", loadSchedules, 0), wait);
  }
}

function ruleText(schedule) {
  if (schedule.cron != null) return `cron ${schedule.cron}`;
  if (schedule.every != null) return `every ${Number(Number(schedule.every).toFixed(3))} s`;
  return "—";
}

function scheduleRow(schedule) {
  const key = schedule.key;
  const remove = () => act("DELETE", `schedules/${encodeURIComponent(key)}`, () => {
    if (scheduleRowOf(key)?.contains(document.activeElement)) $("#schedules-heading").focus();
    ui.schedules = ui.schedules.filter((s) => s.key !== key);
    renderSchedules();
    return `Schedule ${key} removed`;
  });
  const last = schedule.last_job_id;
  return el("tr", { "data-schedule-key": key },
    el("th", { scope: "row" },
      el("span", { class: "schedule-key", "data-field": "key" }, key),
      el("button", { type: "button", class: "link sub", "data-field": "type",
        title: `Show only ${schedule.type} jobs`, onclick: () => showList(ui.state, schedule.type) },
      schedule.type)),
    el("td", { title: schedule.catch_up ? "after downtime, one job for the runs missed"
      : "after downtime, the runs missed are skipped" },
      el("code", { "data-field": "rule" }, ruleText(schedule)),
      el("span", { class: "sub muted", "data-field": "tz", title: "time zone" }, schedule.tz ?? "UTC")),
    el("td", { "data-field": "next" }, timeEl(schedule.next_run_at)),
    el("td", { "data-field": "last" }, last == null
      ? el("span", { class: "muted", title: "no run yet" }, "—")
      : el("a", { href: `#job/${last}`, title: `Job ${last}, made ${formatTime(schedule.last_run_at)}` },
        `#${last}`)),
    el("td", {}, el("button", { type: "button", class: "small danger", "data-action": "unschedule",
      "aria-label": `Remove schedule ${key}`, onclick: remove }, "Remove")));
}

// ---------------------------------------------------------------- job panel

function route() {
  const match = /^#job\/(\d+)$/.exec(location.hash);
  if (match) openJob(Number(match[1]));
  else if (!location.hash || location.hash === "#") closePanel(false);
}

function openJob(id) {
  const panel = $("#job-panel");
  if (ui.openJob !== id) {
    panel.replaceChildren(el("p", { class: "muted" }, `Loading job #${id}…`));
    ui.refusal = null;
  }
  ui.openJob = id;
  ui.panelKey = "";
  panel.dataset.jobId = String(id);
  panel.hidden = false;
  $("#layout").classList.add("panel-open");
  markOpenRow();
  loadPanel().then(() => $("#job-panel-title")?.focus());
}

function closePanel(updateUrl = true) {
  if (ui.openJob == null) return;
  const id = ui.openJob;
  Object.assign(ui, { openJob: null, panelData: null, refusal: null });
  ui.panelLinks.clear();
  const panel = $("#job-panel");
  panel.hidden = true;
  panel.replaceChildren();
  delete panel.dataset.jobId;
  $("#layout").classList.remove("panel-open");
  if (updateUrl) history.pushState(null, "", location.pathname + location.search);
  markOpenRow();
  (rowOf(id) || $("#jobs-heading")).focus();
}

async function loadPanel() {
  const id = ui.openJob;
  if (id == null) return;
  try {
    const answers = await Promise.all([api("GET", `job/${id}`), api("GET", `job/${id}/errors`),
      api("GET", `job/${id}/log`), api("GET", `job/${id}/tree`)]);
    if (ui.openJob === id) renderPanel(...answers);
  } catch (err) {
    if (ui.openJob !== id) return;
    renderPanelError(id, err.status === 404 ? `Job #${id} does not exist (any more).` : err.message);
  }
}

function panelHeader(title, ...extra) {
  return el("div", { class: "panel-head" },
    el("h2", { id: "job-panel-title", tabindex: "-1" }, title, ...extra),
    el("button", { type: "button", class: "close", "aria-label": "Close job details",
      onclick: () => closePanel() }, "×"));
}

function renderPanelError(id, text) {
  Object.assign(ui, { panelKey: "", panelData: null, refusal: null });
  ui.panelLinks.clear();
  $("#job-panel").replaceChildren(panelHeader(`Job #${id}`), el("p", { class: "empty" }, text));
}

function renderPanel(job, errors, log, tree) {
  const key = JSON.stringify([{ ...job, progress: 0 }, errors, log, tree, ui.refusal]);
  setProgress($("#job-panel .panel-state"), percentOf(job));
  if (key === ui.panelKey) return;
  ui.panelKey = key;
  ui.panelData = [job, errors, log, tree];
  ui.panelLinks = new Set([...(job.depends_on || []), ...(job.dependents || [])]);
  const panel = $("#job-panel");
  const focused = document.activeElement?.closest?.("#job-panel [data-action]")?.dataset.action;
  const focusedLink = document.activeElement?.closest?.("#job-panel [data-link-id]")?.dataset.linkId;
  const openDetails = $$("details", panel).map((d) => d.open);
  const block = (title, value, cls) => value != null && value !== "" &&
    section(title, el("pre", { class: cls }, pretty(value)));
  panel.replaceChildren(...present([
    panelHeader(`Job #${job.id} `, el("span", { class: "job-type" }, job.type)),
    el("p", { class: `panel-state is-${job.state}` },
      el("span", { class: `badge state-${job.state}` }, job.state),
      progressBar(percentOf(job), `Progress of job ${job.id}`)),
    panelActions(job),
    refusalBox(job),
    el("dl", { class: "facts" }, facts(job).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
    dependencySection(job, tree),
    dependentSection(job, tree),
    block("Data", job.data),
    block("Progress data", job.progress_data),
    block("Result", job.result),
    block("Error", job.error, "error-text"),
    section(`Failed attempts (${errors.length})`,
      errors.length ? errorList(errors) : el("p", { class: "muted" }, "None.")),
    section(`Log (${log.length})`, log.length
      ? el("ol", { class: "log" }, log.map((line) => el("li", {}, line)))
      : el("p", { class: "muted" }, "No log lines.")),
  ]));
  $$("details", panel).forEach((d, i) => { d.open = openDetails[i] ?? false; });
  if (focused) $(`[data-action="${focused}"]`, panel)?.focus();
  if (focusedLink) $(`[data-link-id="${CSS.escape(focusedLink)}"]`, panel)?.focus();
}

function section(title, ...body) {
  return el("section", { class: "panel-section" }, el("h3", {}, title), ...body);
}

function facts(job) {
  const ended = job.completed_at || job.failed_at;
  return present([
    job.corrupt && ["Corrupt", job.corrupt],
    ["State", job.state ?? "unknown"],
    ["Priority", `${priorityName(job.priority)} (${job.priority})`],
    ["Attempts", `${job.attempts?.made ?? 0} of ${job.attempts?.max ?? 1}`],
    ["Stalls", String(job.stalls ?? 0)],
    ["Created", formatTime(job.created_at)],
    ["Updated", formatTime(job.updated_at)],
    job.started_at && ["Started", formatTime(job.started_at)],
    job.completed_at && ["Completed", formatTime(job.completed_at)],
    job.failed_at && ["Failed", formatTime(job.failed_at)],
    job.state === "delayed" && ["Runs at", formatTime(job.run_at)],
    job.started_at && ended && ["Duration", `${((ended - job.started_at) / 1000).toFixed(2)} s`],
    job.worker && ["Worker", job.worker],
    job.schedule && ["Schedule", job.schedule],
    job.limit_key && ["Limit key", job.limit_key],
    job.ttl && ["TTL", `${job.ttl} s`],
    job.backoff && ["Backoff", `${job.backoff.type}, ${job.backoff.delay} s`],
    job.depends_on?.length > 0 && ["If a dependency fails",
      POLICIES[job.on_dependency_failure] ?? String(job.on_dependency_failure)],
  ]);
}

// What on_dependency_failure makes a dependent do when a dependency fails for good.
const POLICIES = {
  fail: "it fails too",
  ignore: "it runs anyway",
  wait: "it waits for a retry",
};

/** A link that opens job `id`'s panel (the same #job/ID address as a row). */
function jobLink(id, type) {
  return el("a", { href: `#job/${id}`, class: "job-link", "data-link-id": id },
    el("span", { class: "job-id" }, `#${id}`), type != null && " ",
    type != null && el("span", { class: "job-type" }, type));
}

/** One job of a flow in the panel: its link, state and, for a dependency, its outcome. */
function flowItem(node, outcome) {
  const removed = node.type == null; // nothing left to open
  return el("li", { "data-flow-id": node.id },
    removed ? el("span", { class: "job-id" }, `#${node.id}`) : jobLink(node.id, node.type),
    node.state && el("span", { class: `badge state-${node.state}` }, node.state),
    outcome && el("span", { class: `outcome outcome-${outcome}`, "data-outcome": outcome },
      outcome));
}

function flowList(name, items, total) {
  const rest = total - items.length; // past the tree's 1,000 nodes
  return [el("ul", { class: "flow-list", "data-list": name }, items),
    rest > 0 && el("p", { class: "muted" }, `… and ${rest.toLocaleString()} more`)];
}

/** What the job waits for: each dependency's state and outcome, and what holds it. */
function dependencySection(job, tree) {
  const ids = job.depends_on || [];
  if (!ids.length) return null;
  const nodes = tree?.depends_on || [];
  const cause = nodes.find((node) => node.id === job.failed_by);
  const pending = job.pending_dependencies ?? 0;
  return section(`Depends on (${ids.length})`,
    job.state === "waiting" && el("p", { class: "flow-note", "data-field": "pending" },
      `Waiting for ${pending} of ${ids.length}`),
    job.failed_by != null && el("p", { class: "flow-note error-text", "data-field": "failed-by" },
      "Failed because dependency ", jobLink(job.failed_by),
      cause?.outcome === "removed" ? " was removed" : " failed"),
    flowList("depends-on", nodes.map((node) => flowItem(node, node.outcome ?? "pending")),
      ids.length));
}

/** The jobs that wait for this one (or waited: those done or failed since stay listed). */
function dependentSection(job, tree) {
  const ids = job.dependents || [];
  if (!ids.length) return null;
  const nodes = tree?.dependents || [];
  return section(`Needed by (${ids.length})`,
    flowList("dependents", nodes.map((node) => flowItem(node, null)), ids.length));
}

function errorList(errors) {
  return el("ol", { class: "attempts" }, errors.map((e) => el("li", {},
    el("p", {}, el("strong", {}, `Attempt ${e.attempt ?? "?"}`), " · ", timeEl(e.at),
      e.worker ? el("span", { class: "muted" }, ` · ${e.worker}`) : null),
    el("pre", { class: "error-text" }, e.error ?? ""),
    e.traceback && el("details", {}, el("summary", {}, "Traceback"),
      el("pre", { class: "trace" }, e.traceback)))));
}

function panelActions(job) {
  const id = job.id;
  const current = priorityName(job.priority);
  const select = el("select", { id: "priority-select", "data-action": "priority" },
    Object.keys(PRIORITIES).map((name) => el("option", { value: name }, name)),
    current in PRIORITIES ? null : el("option", { value: current }, `custom (${current})`));
  select.value = current;
  select.addEventListener("change", () =>
    act("PUT", `job/${id}/priority/${encodeURIComponent(select.value)}`));
  return el("div", { class: "actions" },
    job.state === "failed" && el("button", { type: "button", "data-action": "retry",
      onclick: () => act("POST", `job/${id}/retry`) }, "Retry"),
    el("button", { type: "button", class: "danger", "data-action": "remove",
      "aria-label": `Remove job ${id}`, onclick: () => removeJob(id) }, "Remove"),
    el("label", { for: "priority-select" }, "Priority"), select);
}

/** Remove job `id`; while jobs wait for it the server refuses (409) unless `force`:
 * the panel then says so and offers to remove it anyway, which fails those jobs. */
async function removeJob(id, force = false) {
  try {
    const body = await api("DELETE", `job/${id}${force ? "?force=true" : ""}`);
    rowOf(id)?.parentElement.remove();
    if (ui.openJob === id) closePanel();
    showMessage(body?.message || `Job ${id} removed`, "ok");
    refreshAll();
  } catch (err) {
    if (err.status === 409 && !force && ui.openJob === id) showRefusal(id, err.message);
    else showMessage(err.message, "error");
  }
}

function showRefusal(id, text) {
  ui.refusal = text == null ? null : { id, text };
  if (ui.panelData) renderPanel(...ui.panelData);
  const box = $("#job-panel .refusal");
  (box ? $('[data-action="cancel-remove"]', box) : $('#job-panel [data-action="remove"]'))?.focus();
}

function refusalBox(job) {
  if (ui.refusal?.id !== job.id) return null;
  return el("div", { class: "refusal", role: "alert" },
    el("p", {}, ui.refusal.text),
    el("p", {}, "Removing it anyway fails the jobs that wait for it."),
    el("div", { class: "actions" },
      el("button", { type: "button", class: "danger", "data-action": "force-remove",
        onclick: () => removeJob(job.id, true) }, "Remove anyway"),
      el("button", { type: "button", "data-action": "cancel-remove",
        onclick: () => showRefusal(job.id, null) }, "Cancel")));
}

// ---------------------------------------------------------------- live events

function connectEvents() {
  ui.events?.close();
  const token = sessionStorage.getItem(TOKEN_KEY);
  // EventSource cannot send headers: with --token-reads the token goes in the URL
  const url = ui.tokenReads && token ? `events?token=${encodeURIComponent(token)}` : "events";
  const source = new EventSource(url);
  ui.events = source;
  const live = $("#live");
  source.onopen = () => {
    live.dataset.status = "live";
    live.textContent = "Live";
    refreshAll(); // catch up on anything that happened before (re)connecting
  };
  source.onerror = () => {
    live.dataset.status = "down";
    live.textContent = "Reconnecting…";
    // the browser retries by itself, except after an HTTP error answer: then we do
    if (source.readyState === EventSource.CLOSED) {
      setTimeout(() => ui.events === source && connectEvents(), 5000);
    }
  };
  source.onmessage = (message) => {
    let ev = null;
    try {
      ev = JSON.parse(message.data);
    } catch {
      return; // not one of ours
    }
    if (typeof ev?.event === "string") onEvent(ev);
  };
}

function onEvent(ev) {
  const name = ev.event;
  if (name === "progress") return onProgress(ev);
  if (name === "pause" || name === "resume") return setPaused(ev.type, name === "pause");
  if (name === "schedule" || name === "unschedule") return later("schedules", loadSchedules, 200);
  if (name === "limits") return later("counts", loadCounts, 200); // a type's row shows them
  if (name !== "priority") ui.progress.delete(ev.id); // a new attempt, or the end
  const move = MOVES[name]?.(ev); // none for events that keep the job's state (priority)
  const [from, to] = move || [null, null];
  if (move) adjustCounts(ev.type, from, to);
  if (move && ev.id != null) {
    remember(ev.id, to);
    moveRow(ev.id, to);
  }
  later("counts", loadCounts, ev.type && !ui.types.has(ev.type) ? 100 : 500);
  const shown = !ui.type || ui.type === ev.type;
  if (shown && (!move || ui.state === from || ui.state === to || to === null)) {
    later("jobs", loadJobs, 400);
  }
  if (name === "complete" || name === "failed") later("throughput", loadThroughput, 3000);
  if (name === "enqueue") later("schedules", loadSchedules, 1000); // a schedule's run, maybe
  if (ev.id != null && ev.id === ui.openJob) {
    if (name === "remove") renderPanelError(ev.id, `Job #${ev.id} was removed.`);
    else later("panel", loadPanel, 300);
  } else if (move && ui.panelLinks.has(ev.id)) {
    later("panel", loadPanel, 300); // a job it waits for, or one waiting for it, moved
  }
}

/** Keep where a job's event moved it, so that its next event knows where it comes from. */
function remember(id, state) {
  if (ui.states.size > 5000) ui.states.clear(); // ids whose end we never saw
  if (state) ui.states.set(id, state);
  else ui.states.delete(id);
}

function onProgress(ev) {
  if (ui.progress.size > 5000) ui.progress.clear(); // ids whose end we never saw
  ui.progress.set(ev.id, clampPercent(ev.progress));
  setProgress(rowOf(ev.id), ev.progress);
  if (ev.id === ui.openJob) {
    setProgress($("#job-panel .panel-state"), ev.progress);
    if (ev.data != null) later("panel", loadPanel, 1000); // progress data changed
  }
}

/** Take a job's row out of the list at once when it leaves the state shown. */
function moveRow(id, to) {
  const row = rowOf(id);
  if (!row || to === ui.state) return;
  row.parentElement.remove();
  $("#job-list-empty").hidden = $("#job-list").children.length > 0;
  renderPager();
}

// ---------------------------------------------------------------- charts

async function loadThroughput() {
  try {
    ui.minutes = (await api("GET", "throughput")).minutes || [];
    drawCharts();
  } catch (err) {
    showMessage(`Could not load throughput: ${err.message}`, "error");
  }
}

function drawCharts() {
  const sum = (key) => ui.minutes.reduce((n, m) => n + (m[key] || 0), 0);
  const [done, failed] = [sum("complete"), sum("failed")];
  const points = ui.minutes.map((m) => [m.complete || 0, m.failed || 0]);
  const peak = Math.max(0, ...points.map(([ok, bad]) => ok + bad));
  drawChart($("#throughput-chart"), points, peak, "");
  $("#throughput-chart").setAttribute("aria-label",
    `Last hour: ${done} jobs completed, ${failed} failed; busiest minute ${peak} jobs`);
  const rates = points.map(([ok, bad]) => (ok + bad ? [0, (100 * bad) / (ok + bad)] : null));
  drawChart($("#failure-chart"), rates, 100, "%");
  const overall = done + failed ? ((100 * failed) / (done + failed)).toFixed(1) : "0";
  $("#failure-chart").setAttribute("aria-label", `Failure rate over the last hour: ${overall}%`);
}

/** Stacked bars in an SVG, one per minute: each point is [ok, bad], or null for no data. */
function drawChart(svg, points, max, unit) {
  const scale = niceMax(max);
  const bars = points.flatMap((point, i) => {
    let y = 100;
    return (point || []).map((value, k) => {
      const height = (value / scale) * 100;
      y -= height;
      return svgEl("rect", { x: i + 0.1, y, width: 0.8, height, class: k ? "bad" : "ok" });
    });
  });
  const width = Math.max(points.length, 1);
  const grid = [0, 50, 100].map((y) => svgEl("line", { x1: 0, x2: width, y1: y, y2: y }));
  svg.setAttribute("viewBox", `0 0 ${width} 100`);
  svg.replaceChildren(...grid, ...bars);
  $(".y-max", svg.parentElement).textContent = `${scale}${unit}`;
}

function svgEl(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

function niceMax(value) {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].find((s) => s * magnitude >= value) * magnitude;
}

// ---------------------------------------------------------------- start-up

function refreshAll() {
  later("counts", loadCounts, 50);
  later("jobs", loadJobs, 50);
  later("schedules", loadSchedules, 50);
  if (ui.openJob != null) later("panel", loadPanel, 50);
}

function bindControls() {
  for (const tab of $$("[data-state-tab]")) {
    tab.addEventListener("click", () => showList(tab.dataset.stateTab, ui.type));
  }
  $("#type-filter").addEventListener("change", (event) => showList(ui.state, event.target.value));
  $("#prev-page").addEventListener("click", () => { ui.page = Math.max(0, ui.page - 1); loadJobs(); });
  $("#next-page").addEventListener("click", () => { ui.page += 1; loadJobs(); });
  window.addEventListener("hashchange", route);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && ui.openJob != null) closePanel();
  });
  // keep "3 min ago" true without refetching anything
  setInterval(() => $$("time[data-ms]").forEach((t) => { t.textContent = ago(+t.dataset.ms); }),
    30_000);
}

async function start() {
  bindControls();
  try {
    const config = await api("GET", "config");
    ui.tokenReads = Boolean(config.tokenReads);
    setupToken(Boolean(config.tokenRequired));
    $("#queue-prefix").textContent = config.prefix || "";
    if (config.overview) {
      $("#overview-link").href = config.overview;
      $("#overview-link").hidden = false;
    }
  } catch (err) {
    showMessage(`Could not load the configuration: ${err.message}`, "error");
  }
  await loadCounts();
  loadJobs();
  loadSchedules();
  loadThroughput();
  setInterval(loadThroughput, 60_000);
  route();
  connectEvents();
}

start();
