"use strict";
// The durable_ext monitor. Reads the built-in HTTP API next to this page (the same API the SDK
// client uses) on the page's own origin, forwarding the query values the page was opened with
// (code = access key, taskHub, connection). Views: #/ (instance list), #/instance/<id>, #/entities.
// Every text from the server is put into the page with textContent, never as HTML.
(() => {
  const BASE = location.pathname.replace(/\/monitor\/?$/i, "");
  const PAGE_PARAMS = new URLSearchParams(location.search);
  const FORWARDED = ["code", "taskHub", "connection"];
  const STATUSES = ["Running", "Pending", "Suspended", "Completed", "Failed", "Terminated", "ContinuedAsNew"];
  const TERMINAL = new Set(["Completed", "Failed", "Terminated", "Canceled"]);
  const TOKEN_HEADER = "x-ms-continuation-token";
  const REFRESH_MS = 5000;
  const view = document.getElementById("view");

  // -- helpers --------------------------------------------------------------------------------

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") el.className = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (key === "text") el.textContent = value;
      else el.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function apiUrl(path, query) {
    const params = new URLSearchParams();
    for (const name of FORWARDED) {
      const value = PAGE_PARAMS.get(name);
      if (value) params.set(name, value);
    }
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") params.set(key, value);
    }
    const text = params.toString();
    return `${BASE}/${path}${text ? "?" + text : ""}`;
  }

  async function api(method, path, { query, body, token } = {}) {
    const headers = {};
    if (token) headers[TOKEN_HEADER] = token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(apiUrl(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
    const text = await response.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch { data = text; }
    }
    if (!response.ok && response.status !== 202) {
      const message = (data && (data.ExceptionMessage || data.Message || data.message)) || (typeof data === "string" ? data : "");
      const error = new Error(`${response.status} ${response.statusText}${message ? ": " + message : ""}`);
      error.status = response.status;
      throw error;
    }
    return { status: response.status, data, token: response.headers.get(TOKEN_HEADER) };
  }

  function fmtTime(value, precise = false) {
    if (!value) return "";
    const d = new Date(value);
    if (isNaN(d)) return String(value);
    const text = d.toISOString().replace("T", " ");
    return (precise ? text : text.replace(/\.\d+Z$/, "Z")).replace(/Z$/, " UTC");
  }

  // When the instance's history began and ended (ended = now while it runs), to the millisecond:
  // the status payload's created/updated times are whole seconds.
  function historyWindow(history, data) {
    const times = history.map((e) => new Date(e.Timestamp).getTime()).filter((t) => isFinite(t));
    const begin = times.length ? Math.min(...times) : new Date(data.createdTime).getTime();
    const last = times.length ? Math.max(...times) : new Date(data.lastUpdatedTime).getTime();
    return { begin, end: TERMINAL.has(data.runtimeStatus) ? last : Math.max(last, Date.now()) };
  }

  function fmtDuration(ms) {
    if (!isFinite(ms) || ms < 0) return "";
    if (ms < 1000) return `${Math.round(ms)} ms`;
    const s = ms / 1000;
    if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
    return `${Math.floor(m / 60)} h ${m % 60} min`;
  }

  function pretty(value) {
    if (value === undefined || value === null) return "null";
    if (typeof value === "string") return value;
    return JSON.stringify(value, null, 2);
  }

  function badge(status) {
    return h("span", { class: `badge ${status}`, "data-status": status, text: status });
  }

  let toastTimer = null;
  function toast(message, isError = false) {
    const el = document.getElementById("toast");
    el.textContent = message;
    el.className = isError ? "toast error" : "toast";
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.hidden = true; }, isError ? 8000 : 3500);
  }

  // A modal form: fields [{name, label, value, type}] → resolves to their values, or null on cancel.
  function ask(title, text, fields, okLabel = "OK", danger = false) {
    const dialog = document.getElementById("dialog");
    document.getElementById("dialog-title").textContent = title;
    document.getElementById("dialog-text").textContent = text || "";
    const box = document.getElementById("dialog-fields");
    box.replaceChildren();
    const inputs = {};
    for (const field of fields) {
      const id = `dialog-${field.name}`;
      const input = field.type === "textarea"
        ? h("textarea", { id, name: field.name, placeholder: field.placeholder || "" })
        : h("input", { id, name: field.name, type: "text", placeholder: field.placeholder || "", autocomplete: "off" });
      input.value = field.value || "";
      inputs[field.name] = input;
      box.append(h("div", { class: "field" }, h("label", { for: id, text: field.label }), input));
    }
    const ok = document.getElementById("dialog-ok");
    ok.textContent = okLabel;
    ok.className = danger ? "danger" : "";
    return new Promise((resolve) => {
      const cancel = document.getElementById("dialog-cancel");
      const finish = (result) => {
        cancel.removeEventListener("click", onCancel);
        dialog.removeEventListener("close", onClose);
        resolve(result);
      };
      const onCancel = () => { dialog.close("cancel"); };
      const onClose = () => {
        if (dialog.returnValue !== "ok") return finish(null);
        const values = {};
        for (const [name, input] of Object.entries(inputs)) values[name] = input.value;
        finish(values);
      };
      cancel.addEventListener("click", onCancel);
      dialog.addEventListener("close", onClose);
      dialog.returnValue = "";
      dialog.showModal();
      const first = Object.values(inputs)[0];
      if (first) first.focus();
    });
  }

  // -- routing ----------------------------------------------------------------------------------

  let refreshTimer = null;
  function stopRefresh() {
    if (refreshTimer) clearInterval(refreshTimer);
    refreshTimer = null;
  }

  function route() {
    stopRefresh();
    const hash = location.hash || "#/";
    const instance = hash.match(/^#\/instance\/(.+)$/);
    for (const link of document.querySelectorAll("nav a")) link.classList.remove("active");
    if (instance) {
      document.getElementById("nav-instances").classList.add("active");
      return showInstance(decodeURIComponent(instance[1]));
    }
    if (hash.startsWith("#/entities")) {
      document.getElementById("nav-entities").classList.add("active");
      return showEntities();
    }
    document.getElementById("nav-instances").classList.add("active");
    return showList();
  }
  window.addEventListener("hashchange", route);

  // -- instance list ----------------------------------------------------------------------------

  // Filters and paging survive going to an instance and back.
  const listState = {
    statuses: new Set(),
    name: "",
    prefix: "",
    from: "",
    to: "",
    top: 50,
    tokens: [null], // tokens[i] = continuation token of page i (page 0 has none)
    page: 0,
    auto: true,
  };

  function toIso(local) {
    // <input type=datetime-local> values are shown and read as UTC.
    return local ? new Date(local + "Z").toISOString() : "";
  }

  function showList() {
    const s = listState;
    const chips = STATUSES.map((status) => {
      const box = h("input", { type: "checkbox", value: status, "data-filter-status": status });
      box.checked = s.statuses.has(status);
      const chip = h("label", { class: "chip" + (box.checked ? " on" : "") }, box, status);
      box.addEventListener("change", () => chip.classList.toggle("on", box.checked));
      return chip;
    });
    const name = h("input", { id: "filter-name", placeholder: "orchestrator name", value: s.name });
    const prefix = h("input", { id: "filter-prefix", placeholder: "starts with…", value: s.prefix });
    const from = h("input", { id: "filter-from", type: "datetime-local", step: "1", value: s.from });
    const to = h("input", { id: "filter-to", type: "datetime-local", step: "1", value: s.to });
    const top = h("select", { id: "page-size" }, [20, 50, 100, 200].map((n) => h("option", { value: n, text: `${n} per page` })));
    top.value = String(s.top);

    const apply = (event) => {
      if (event) event.preventDefault();
      s.statuses = new Set(chips.map((c) => c.querySelector("input")).filter((b) => b.checked).map((b) => b.value));
      s.name = name.value.trim();
      s.prefix = prefix.value.trim();
      s.from = from.value;
      s.to = to.value;
      s.top = Number(top.value);
      s.tokens = [null];
      s.page = 0;
      load();
    };
    const reset = () => {
      s.statuses.clear(); s.name = ""; s.prefix = ""; s.from = ""; s.to = "";
      s.tokens = [null]; s.page = 0;
      showList();
    };
    top.addEventListener("change", apply);

    const form = h("form", { class: "panel filters", id: "filters", onsubmit: apply },
      h("div", { class: "field" }, h("span", { class: "label", text: "Status" }), h("div", { class: "chips" }, chips)),
      h("div", { class: "field" }, h("label", { for: "filter-name", text: "Name" }), name),
      h("div", { class: "field" }, h("label", { for: "filter-prefix", text: "Instance ID prefix" }), prefix),
      h("div", { class: "field" }, h("label", { for: "filter-from", text: "Created from (UTC)" }), from),
      h("div", { class: "field" }, h("label", { for: "filter-to", text: "Created to (UTC)" }), to),
      h("div", { class: "field" }, h("button", { type: "submit", id: "apply-filters", text: "Apply" })),
      h("div", { class: "field" }, h("button", { type: "button", class: "ghost", id: "reset-filters", text: "Reset", onclick: reset })),
    );

    const prev = h("button", { class: "ghost", id: "prev-page", text: "← Previous", onclick: () => { s.page -= 1; load(); } });
    const next = h("button", { class: "ghost", id: "next-page", text: "Next →", onclick: () => { s.page += 1; load(); } });
    const info = h("span", { class: "info", id: "page-info" });
    const auto = h("input", { type: "checkbox", id: "auto-refresh" });
    auto.checked = s.auto;
    auto.addEventListener("change", () => { s.auto = auto.checked; schedule(); });
    const refresh = h("button", { class: "ghost", id: "refresh", text: "Refresh", onclick: () => load() });
    const toolbar = h("div", { class: "toolbar" },
      prev, next, info, h("span", { class: "spacer" }),
      h("label", { class: "toggle" }, auto, "Auto-refresh (5 s)"), refresh, top);
    const table = h("div", { class: "table-wrap", id: "instances" });
    const error = h("div", { id: "list-error" });

    view.replaceChildren(
      h("h1", { text: "Orchestrations" }),
      h("div", { class: "sub", text: "Instances in this task hub (SQLite lists them oldest first, Azure Storage by instance ID); filters and paging run on the server." }),
      form, error, toolbar, table);

    function schedule() {
      stopRefresh();
      if (s.auto) refreshTimer = setInterval(() => load(true), REFRESH_MS);
    }

    let loading = 0;
    async function load(quiet = false) {
      const ticket = ++loading;
      prev.disabled = true;
      next.disabled = true;
      const query = {
        top: s.top,
        showInput: "false",
        runtimeStatus: [...s.statuses].join(","),
        name: s.name,
        instanceIdPrefix: s.prefix,
        createdTimeFrom: toIso(s.from),
        createdTimeTo: toIso(s.to),
      };
      if (!quiet) info.textContent = "Loading…";
      try {
        const result = await api("GET", "instances", { query, token: s.tokens[s.page] });
        if (ticket !== loading) return;
        s.tokens[s.page + 1] = result.token || undefined;
        s.tokens.length = s.page + 2;
        renderRows(result.data || []);
        const first = s.page * s.top + 1;
        const count = (result.data || []).length;
        info.textContent = count ? `Page ${s.page + 1} · instances ${first}–${first + count - 1}` : `Page ${s.page + 1}`;
        prev.disabled = s.page === 0;
        next.disabled = !result.token;
        error.replaceChildren();
      } catch (err) {
        if (ticket !== loading) return;
        error.replaceChildren(h("div", { class: "error-box", text: `Could not list instances: ${err.message}` }));
        info.textContent = "";
        prev.disabled = s.page === 0;
      }
      schedule();
    }

    function renderRows(rows) {
      if (!rows.length) {
        table.replaceChildren(h("div", { class: "empty", text: "No instances match these filters." }));
        return;
      }
      const body = h("tbody", {}, rows.map((row) => h("tr", { "data-instance-id": row.instanceId },
        h("td", { class: "mono" }, h("a", { href: `#/instance/${encodeURIComponent(row.instanceId)}`, text: row.instanceId })),
        h("td", { text: row.name }),
        h("td", {}, badge(row.runtimeStatus)),
        h("td", { class: "nowrap", text: fmtTime(row.createdTime) }),
        h("td", { class: "nowrap", text: fmtTime(row.lastUpdatedTime) }),
      )));
      table.replaceChildren(h("table", { class: "grid" },
        h("thead", {}, h("tr", {}, ["Instance ID", "Name", "Status", "Created", "Last updated"].map((t) => h("th", { text: t })))),
        body));
    }

    load();
  }

  // -- one instance -----------------------------------------------------------------------------

  let instanceTab = "timeline";

  async function showInstance(id) {
    view.replaceChildren(h("div", { class: "sub", text: "Loading…" }));
    let result;
    try {
      result = await api("GET", `instances/${encodeURIComponent(id)}`, {
        query: { showHistory: "true", showHistoryOutput: "true", showInput: "true" },
      });
    } catch (err) {
      const text = err.status === 404 ? `No instance with ID '${id}' was found.` : `Could not load '${id}': ${err.message}`;
      view.replaceChildren(h("p", {}, h("a", { href: "#/", text: "← All orchestrations" })), h("div", { class: "error-box", text }));
      return;
    }
    renderInstance(id, result.data);
    if (!TERMINAL.has(result.data.runtimeStatus)) {
      refreshTimer = setInterval(async () => {
        try {
          const again = await api("GET", `instances/${encodeURIComponent(id)}`, {
            query: { showHistory: "true", showHistoryOutput: "true", showInput: "true" },
          });
          if (location.hash !== `#/instance/${encodeURIComponent(id)}`) return;
          renderInstance(id, again.data);
          if (TERMINAL.has(again.data.runtimeStatus)) stopRefresh();
        } catch { /* keep the last view; the next tick retries */ }
      }, 2000);
    }
  }

  function renderInstance(id, data) {
    const status = data.runtimeStatus;
    const path = `instances/${encodeURIComponent(id)}`;
    const running = !TERMINAL.has(status);

    const act = (label, options) => h("button", {
      class: options.cls || "ghost",
      id: `action-${options.key}`,
      disabled: options.enabled ? undefined : true,
      text: label,
      onclick: options.run,
    });
    const withReason = (verb, title, danger) => async () => {
      const values = await ask(title, `Instance ${id}`, [{ name: "reason", label: "Reason", placeholder: "optional" }], title, danger);
      if (!values) return;
      await perform(() => api("POST", `${path}/${verb}`, { query: { reason: values.reason } }), `${title}: request sent.`);
    };
    const actions = h("div", { class: "actions" },
      act("Raise event", { key: "raise", enabled: running, run: raiseEvent }),
      act("Suspend", { key: "suspend", enabled: status === "Running" || status === "Pending", run: withReason("suspend", "Suspend") }),
      act("Resume", { key: "resume", enabled: status === "Suspended", run: withReason("resume", "Resume") }),
      act("Rewind", { key: "rewind", enabled: status === "Failed", run: withReason("rewind", "Rewind") }),
      act("Restart", { key: "restart", enabled: true, run: restart }),
      act("Terminate", { key: "terminate", cls: "ghost danger", enabled: running, run: withReason("terminate", "Terminate", true) }),
      act("Purge", { key: "purge", cls: "ghost danger", enabled: !running, run: purge }),
    );

    async function perform(call, message) {
      try {
        await call();
        toast(message);
        setTimeout(() => { if (location.hash.startsWith("#/instance/")) route(); }, 400);
      } catch (err) {
        toast(err.message, true);
      }
    }
    async function raiseEvent() {
      const values = await ask("Raise event", `Instance ${id}`, [
        { name: "event", label: "Event name" },
        { name: "data", label: "Event data (JSON)", type: "textarea", placeholder: "null" },
      ], "Raise");
      if (!values) return;
      if (!values.event.trim()) return toast("The event name is required.", true);
      let payload = null;
      if (values.data.trim()) {
        try { payload = JSON.parse(values.data); } catch (err) { return toast(`Event data is not JSON: ${err.message}`, true); }
      }
      await perform(() => api("POST", `${path}/raiseEvent/${encodeURIComponent(values.event.trim())}`, { body: payload }),
        `Event '${values.event.trim()}' raised.`);
    }
    async function restart() {
      const values = await ask("Restart", `Start '${data.name}' again with the same input, under a new instance ID.`, [], "Restart");
      if (!values) return;
      try {
        const result = await api("POST", `${path}/restart`);
        const newId = result.data && result.data.id;
        toast(`Restarted as ${newId}.`);
        if (newId) location.hash = `#/instance/${encodeURIComponent(newId)}`;
      } catch (err) {
        toast(err.message, true);
      }
    }
    async function purge() {
      const values = await ask("Purge", `Delete instance ${id} and its history? This cannot be undone.`, [], "Purge", true);
      if (!values) return;
      try {
        await api("DELETE", path);
        toast(`Instance ${id} purged.`);
        location.hash = "#/";
      } catch (err) {
        toast(err.message, true);
      }
    }

    const history = data.historyEvents || [];
    const started = history.find((e) => e.EventType === "ExecutionStarted");
    const bounds = historyWindow(history, data);
    const fact = (label, value) => h("div", { class: "fact" }, h("div", { class: "label", text: label }), h("div", { class: "value" }, value));
    const payload = (label, value, key) => h("div", { class: "panel" }, h("h2", { text: label }), h("pre", { class: "json", id: `payload-${key}`, text: pretty(value) }));

    const timelineTab = h("button", { id: "tab-timeline", text: "Timeline", class: instanceTab === "timeline" ? "active" : "" });
    const historyTab = h("button", { id: "tab-history", text: `History (${history.length})`, class: instanceTab === "history" ? "active" : "" });
    const pane = h("div", { id: "tab-pane" });
    const showTab = (tab) => {
      instanceTab = tab;
      timelineTab.classList.toggle("active", tab === "timeline");
      historyTab.classList.toggle("active", tab === "history");
      pane.replaceChildren(tab === "timeline" ? timeline(history, data) : historyTable(history));
    };
    timelineTab.addEventListener("click", () => showTab("timeline"));
    historyTab.addEventListener("click", () => showTab("history"));

    view.replaceChildren(
      h("p", {}, h("a", { href: "#/", id: "back", text: "← All orchestrations" })),
      h("div", { class: "head" },
        h("div", { class: "title" }, h("h1", {}, h("span", { class: "mono", id: "instance-id", text: id })),
          h("div", { class: "sub" }, h("span", { text: data.name }), " · ", badge(status))),
        actions),
      h("div", { class: "facts" },
        fact("Status", h("span", { id: "instance-status" }, badge(status))),
        fact("Created", fmtTime(data.createdTime)),
        fact("Last updated", fmtTime(data.lastUpdatedTime)),
        fact(running ? "Running for" : "Duration", fmtDuration(bounds.end - bounds.begin) || "—"),
        fact("Version", (started && started.Version) || "—")),
      h("div", { class: "payloads" },
        payload("Input", data.input, "input"),
        payload("Output", data.output, "output"),
        payload("Custom status", data.customStatus, "custom-status")),
      h("div", { class: "panel" }, h("div", { class: "tabs" }, timelineTab, historyTab), pane),
    );
    showTab(instanceTab);
  }

  function historyTable(history) {
    if (!history.length) return h("div", { class: "empty", text: "No history yet: the instance has not started running." });
    const rows = history.map((event, index) => {
      const details = {};
      for (const [key, value] of Object.entries(event)) {
        if (["EventType", "Timestamp", "FunctionName", "Name"].includes(key) || value === null || value === undefined) continue;
        details[key] = value;
        // Inputs are stored as JSON text; show them as the JSON they are, not as an escaped string.
        if (typeof value === "string" && /^[[{"]/.test(value)) {
          try { details[key] = JSON.parse(value); } catch { /* not JSON: keep the text */ }
        }
      }
      const text = Object.keys(details).length ? JSON.stringify(details) : "";
      return h("tr", { "data-event": event.EventType },
        h("td", { class: "muted", text: String(index) }),
        h("td", { text: event.EventType }),
        h("td", { text: event.FunctionName || event.Name || "" }),
        h("td", { class: "nowrap", text: fmtTime(event.Timestamp, true) }),
        h("td", { class: "mono", text: text.length > 400 ? text.slice(0, 399) + "…" : text }));
    });
    return h("div", { class: "table-wrap" }, h("table", { class: "grid", id: "history-table" },
      h("thead", {}, h("tr", {}, ["#", "Event", "Name", "Time", "Details"].map((t) => h("th", { text: t })))),
      h("tbody", {}, rows)));
  }

  // Bars for activities, sub-orchestrations and timers, markers for events, from the history.
  function spans(history, data) {
    const items = [];
    const openTimers = [];
    const end = historyWindow(history, data).end;
    const t = (value) => new Date(value).getTime();
    for (const event of history) {
      switch (event.EventType) {
        case "TaskCompleted":
        case "TaskFailed":
          items.push({ kind: "activity", label: event.FunctionName || "activity", start: t(event.ScheduledTime || event.Timestamp),
            end: t(event.Timestamp), failed: event.EventType === "TaskFailed" });
          break;
        case "TaskScheduled":
          items.push({ kind: "activity", label: event.Name || "activity", start: t(event.Timestamp), end, open: true });
          break;
        case "SubOrchestrationInstanceCompleted":
        case "SubOrchestrationInstanceFailed":
          items.push({ kind: "suborchestration", label: event.FunctionName || "sub-orchestration",
            start: t(event.ScheduledTime || event.Timestamp), end: t(event.Timestamp),
            failed: event.EventType === "SubOrchestrationInstanceFailed" });
          break;
        case "SubOrchestrationInstanceCreated":
          items.push({ kind: "suborchestration", label: event.Name || "sub-orchestration", start: t(event.Timestamp), end, open: true });
          break;
        case "TimerCreated": {
          const item = { kind: "timer", label: `timer ${fmtDuration(t(event.FireAt) - t(event.Timestamp))}`, start: t(event.Timestamp), end, open: true, fireAt: event.FireAt };
          openTimers.push(item);
          items.push(item);
          break;
        }
        case "TimerFired": {
          const index = openTimers.findIndex((x) => x.fireAt === event.FireAt);
          if (index >= 0) {
            const item = openTimers.splice(index, 1)[0];
            item.end = t(event.Timestamp);
            item.open = false;
          }
          break;
        }
        case "EventRaised":
          items.push({ kind: "event", label: `event ${event.Name || ""}`, start: t(event.Timestamp) });
          break;
        default:
          break;
      }
    }
    return items;
  }

  function timeline(history, data) {
    if (!history.length) return h("div", { class: "empty", text: "No history yet: the instance has not started running." });
    const items = spans(history, data);
    const bounds = historyWindow(history, data);
    const t0 = Math.min(bounds.begin, ...items.map((i) => i.start));
    const t1 = Math.max(t0 + 1, bounds.end, ...items.map((i) => i.end || i.start));
    const span = t1 - t0;
    const pct = (time) => `${(100 * (time - t0)) / span}%`;

    const ticks = h("div", { class: "ticks" });
    for (let i = 0; i <= 4; i += 1) {
      const tick = h("span", { class: "tick", text: `+${fmtDuration((span * i) / 4) || "0 ms"}` });
      tick.style.left = `${i * 25}%`;
      if (i === 0) tick.style.transform = "none";
      if (i === 4) tick.style.transform = "translateX(-100%)";
      ticks.append(tick);
    }
    const rows = [h("div", { class: "axis" }, h("span"), ticks)];
    const whole = h("div", { class: "bar orchestration", title: `${data.name}: ${fmtDuration(t1 - t0)}` });
    whole.style.left = "0%";
    whole.style.width = "100%";
    rows.push(h("div", { class: "row", "data-kind": "orchestration" },
      h("div", { class: "label" }, h("span", { class: "kind", text: "orch" }), data.name), h("div", { class: "track" }, whole)));
    for (const item of items) {
      const track = h("div", { class: "track" });
      if (item.kind === "event") {
        const marker = h("span", { class: "marker", title: `${item.label} at ${fmtTime(item.start)}` });
        marker.style.left = pct(item.start);
        track.append(marker);
      } else {
        const duration = fmtDuration(item.end - item.start);
        const bar = h("div", {
          class: `bar ${item.kind}${item.failed ? " failed" : ""}${item.open ? " open" : ""}`,
          title: `${item.label}: ${duration}${item.open ? " (not finished)" : ""}${item.failed ? " (failed)" : ""}`,
        });
        bar.style.left = pct(item.start);
        bar.style.width = `${Math.max(0.3, (100 * (item.end - item.start)) / span)}%`;
        track.append(bar);
      }
      const kind = { activity: "act", suborchestration: "sub", timer: "timer", event: "event" }[item.kind];
      rows.push(h("div", { class: "row", "data-kind": item.kind },
        h("div", { class: "label", title: item.label }, h("span", { class: "kind", text: kind }), item.label), track));
    }
    return h("div", {},
      h("div", { class: "gantt", id: "timeline" }, rows),
      h("div", { class: "legend" },
        h("span", { class: "l-activity", text: "activity" }), h("span", { class: "l-sub", text: "sub-orchestration" }),
        h("span", { class: "l-timer", text: "timer" }), h("span", { class: "l-event", text: "external event" }),
        h("span", { class: "l-failed", text: "failed" }),
        h("span", { class: "muted", text: `total ${fmtDuration(span)}` })));
  }

  // -- entities ---------------------------------------------------------------------------------

  const entityState = { name: "", tokens: [null], page: 0 };

  function showEntities() {
    const s = entityState;
    const name = h("input", { id: "entity-name", placeholder: "entity name", value: s.name });
    const table = h("div", { class: "table-wrap", id: "entities" });
    const prev = h("button", { class: "ghost", id: "entities-prev", text: "← Previous", onclick: () => { s.page -= 1; load(); } });
    const next = h("button", { class: "ghost", id: "entities-next", text: "Next →", onclick: () => { s.page += 1; load(); } });
    const info = h("span", { class: "info" });
    const detail = h("div", { id: "entity-detail" });
    const apply = (event) => {
      event.preventDefault();
      s.name = name.value.trim();
      s.tokens = [null];
      s.page = 0;
      load();
    };
    view.replaceChildren(
      h("h1", { text: "Entities" }),
      h("div", { class: "sub", text: "Durable entities in this task hub and their state." }),
      h("form", { class: "panel filters", onsubmit: apply },
        h("div", { class: "field" }, h("label", { for: "entity-name", text: "Name" }), name),
        h("div", { class: "field" }, h("button", { type: "submit", text: "Apply" }))),
      h("div", { class: "toolbar" }, prev, next, info),
      table, detail);

    async function load() {
      prev.disabled = true;
      next.disabled = true;
      try {
        const path = s.name ? `entities/${encodeURIComponent(s.name)}` : "entities";
        const result = await api("GET", path, { query: { fetchState: "true", top: 50 }, token: s.tokens[s.page] });
        s.tokens[s.page + 1] = result.token || undefined;
        prev.disabled = s.page === 0;
        next.disabled = !result.token;
        info.textContent = `Page ${s.page + 1}`;
        const rows = result.data || [];
        if (!rows.length) {
          table.replaceChildren(h("div", { class: "empty", text: "No entities found." }));
          return;
        }
        table.replaceChildren(h("table", { class: "grid" },
          h("thead", {}, h("tr", {}, ["Name", "Key", "Last operation", "State"].map((t) => h("th", { text: t })))),
          h("tbody", {}, rows.map((row) => {
            const state = JSON.stringify(row.state);
            const open = h("a", { href: "#/entities", text: row.entityId.key, onclick: (event) => {
              event.preventDefault();
              detail.replaceChildren(h("div", { class: "panel" },
                h("h2", { text: `@${row.entityId.name}@${row.entityId.key}` }),
                h("pre", { class: "json", id: "entity-state", text: pretty(row.state) })));
            } });
            return h("tr", {},
              h("td", { text: row.entityId.name }), h("td", { class: "mono" }, open),
              h("td", { class: "nowrap", text: fmtTime(row.lastOperationTime) }),
              h("td", { class: "mono", text: state && state.length > 120 ? state.slice(0, 119) + "…" : state }));
          }))));
      } catch (err) {
        table.replaceChildren(h("div", { class: "error-box", text: `Could not list entities: ${err.message}` }));
      }
    }
    load();
  }

  // -- start --------------------------------------------------------------------------------------

  const hub = PAGE_PARAMS.get("taskHub");
  if (hub) document.getElementById("hub-name").textContent = `Task hub ${hub}`;
  route();
})();
