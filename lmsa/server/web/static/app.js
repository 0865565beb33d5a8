// lmsa chat: a plain client of the LangGraph Server API served beside this page.
// Hand-written, no framework and no build step (see lmsa/server/web/__init__.py for why).
// Model text is never inserted as HTML without escaping: renderMarkdown escapes first.
"use strict";

(function () {
  const KEY_STORE = "lmsa.apiKey";
  const THEME_STORE = "lmsa.theme";
  const LAST_THREAD = "lmsa.thread";
  const STREAM_MODES = ["values", "updates", "messages-tuple"];
  // The node that runs next, as the user would name it, once a node's update arrives.
  const NEXT_STEP = {
    guard: "Understanding your request",
    classify_intent: "Planning",
    clarify: "Understanding your answer",
    execute: "Checking the results",
    validate: "Writing the answer",
  };
  const ANSWER_NODE = "respond";

  const $ = (id) => document.getElementById(id);
  const els = {
    app: $("app"), sidebar: $("sidebar"), scrim: $("scrim"), menu: $("menu"),
    threads: $("threads"), threadsNote: $("threads-note"), newThread: $("new-thread"),
    title: $("title"), log: $("log"), empty: $("empty"), status: $("status"),
    statusText: $("status-text"), alert: $("alert"), alertTitle: $("alert-title"),
    alertText: $("alert-text"), alertHint: $("alert-hint"), alertClose: $("alert-close"),
    form: $("composer"), input: $("input"), send: $("send"), stop: $("stop"),
    theme: $("theme"), keyButton: $("key-button"), keyDialog: $("key-dialog"),
    keyForm: $("key-form"), keyInput: $("key-input"), keyForget: $("key-forget"),
    keyCancel: $("key-cancel"),
  };

  const state = {
    assistantId: null,
    threadId: null,
    threads: [],
    running: null, // {controller, runId, threadId}
    keyWaiters: [],
  };

  // ---- small DOM helpers -----------------------------------------------------------------

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function escapeHtml(text) {
    return String(text)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  function scrollToEnd() {
    els.log.scrollTop = els.log.scrollHeight;
  }

  // ---- Markdown: escape everything, then add the few tags we produce ourselves -----------

  function inline(escaped) {
    const codes = [];
    let text = escaped.replace(/`([^`\n]+)`/g, (_, code) => {
      codes.push(code);
      return "\u0000" + (codes.length - 1) + "\u0000";
    });
    text = text
      .replace(/\*\*([^*\n]+)\*\*/g, "<strong>$1</strong>")
      .replace(/__([^_\n]+)__/g, "<strong>$1</strong>")
      .replace(/(^|[^*\w])\*([^*\n]+)\*(?!\*)/g, "$1<em>$2</em>")
      .replace(/(^|[^_\w])_([^_\n]+)_(?!\w)/g, "$1<em>$2</em>")
      .replace(/~~([^~\n]+)~~/g, "<del>$1</del>")
      .replace(/\[([^\]\n]+)\]\((https?:\/\/[^\s)"]+|mailto:[^\s)"]+)\)/g,
        '<a href="$2" rel="noopener noreferrer" target="_blank">$1</a>');
    return text.replace(/\u0000(\d+)\u0000/g, (_, i) => "<code>" + codes[Number(i)] + "</code>");
  }

  function renderMarkdown(source) {
    const lines = escapeHtml(source).replace(/\r\n?/g, "\n").split("\n");
    const out = [];
    let para = [];
    let list = null; // {tag, items}
    const flushPara = () => {
      if (para.length) out.push("<p>" + inline(para.join("\n")).replace(/\n/g, "<br>") + "</p>");
      para = [];
    };
    const flushList = () => {
      if (list) {
        out.push("<" + list.tag + ">" + list.items.map((i) => "<li>" + inline(i) + "</li>").join("") + "</" + list.tag + ">");
      }
      list = null;
    };
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const fence = line.match(/^\s*(`{3,}|~{3,})\s*([\w+#.-]*)\s*$/);
      if (fence) {
        flushPara(); flushList();
        const body = [];
        i++;
        while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
        const lang = fence[2] || "text";
        out.push('<div class="code"><div class="code-head"><span>' + lang +
          '</span><button type="button" class="btn tiny copy" data-copy>Copy</button></div><pre><code>' +
          body.join("\n") + "</code></pre></div>");
        continue;
      }
      const heading = line.match(/^(#{1,6})\s+(.*)$/);
      const bullet = line.match(/^\s*[-*+]\s+(.*)$/);
      const numbered = line.match(/^\s*\d+[.)]\s+(.*)$/);
      const quote = line.match(/^&gt;\s?(.*)$/);
      if (!line.trim()) { flushPara(); flushList(); continue; }
      if (heading) {
        flushPara(); flushList();
        const level = Math.min(heading[1].length + 1, 4); // the page title is h1
        out.push("<h" + level + ">" + inline(heading[2]) + "</h" + level + ">");
      } else if (bullet || numbered) {
        flushPara();
        const tag = bullet ? "ul" : "ol";
        if (!list || list.tag !== tag) { flushList(); list = { tag, items: [] }; }
        list.items.push((bullet || numbered)[1]);
      } else if (quote) {
        flushPara(); flushList();
        out.push("<blockquote>" + inline(quote[1]) + "</blockquote>");
      } else if (/^\s*([-*_])\s*\1\s*\1[\s\1]*$/.test(line)) {
        flushPara(); flushList();
        out.push("<hr>");
      } else if (list && /^\s{2,}\S/.test(line)) {
        list.items[list.items.length - 1] += " " + line.trim();
      } else {
        flushList();
        para.push(line);
      }
    }
    flushPara(); flushList();
    return out.join("");
  }

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    const area = h("textarea", { class: "sr-only" });
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }

  els.log.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const code = button.closest(".code").querySelector("code").textContent;
    try {
      await copyText(code);
      button.textContent = "Copied";
    } catch (error) {
      button.textContent = "Copy failed";
    }
    setTimeout(() => { button.textContent = "Copy"; }, 1500);
  });

  // ---- HTTP ------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message, retryAfter) {
      super(message);
      this.status = status;
      this.retryAfter = retryAfter;
    }
  }

  function messageOf(body, fallback) {
    if (!body) return fallback;
    if (typeof body === "string") return body;
    if (body.error && typeof body.error === "object" && body.error.message) return body.error.message;
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail) && body.detail.length) return body.detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
    if (typeof body.message === "string") return body.message;
    if (typeof body.error === "string") return body.error;
    return fallback;
  }

  function url(path) {
    return new URL(path.replace(/^\//, ""), document.baseURI).toString();
  }

  async function request(method, path, body, options) {
    const headers = { Accept: "application/json" };
    const key = localStorage.getItem(KEY_STORE);
    if (key) headers["X-Api-Key"] = key;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url(path), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: options && options.signal,
      });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(0, "The lmsa server did not answer (" + error.message + ").");
    }
    if (response.status === 401) {
      const text = await response.text();
      let parsed = null;
      try { parsed = JSON.parse(text); } catch (_) { /* not JSON */ }
      await askForKey(messageOf(parsed, "This server needs an API key."));
      return request(method, path, body, options);
    }
    if (!response.ok) {
      const text = await response.text();
      let parsed = text;
      try { parsed = JSON.parse(text); } catch (_) { /* keep the text */ }
      throw new ApiError(response.status, messageOf(parsed, response.status + " " + response.statusText),
        response.headers.get("Retry-After"));
    }
    return response;
  }

  async function api(method, path, body) {
    const response = await request(method, path, body);
    if (response.status === 204) return null;
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  }

  // Server-Sent Events over fetch (EventSource can neither POST nor send the key header).
  async function* sse(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (!data.length) continue;
        let parsed = data.join("\n");
        try { parsed = JSON.parse(parsed); } catch (_) { /* plain text data */ }
        yield { event, data: parsed };
      }
    }
  }

  // ---- API key ---------------------------------------------------------------------------

  function askForKey(reason) {
    return new Promise((resolve, reject) => {
      state.keyWaiters.push({ resolve, reject });
      if (!els.keyDialog.open) {
        els.keyDialog.querySelector("p").textContent = reason +
          " Enter one of the server's keys (LMSA_API_KEYS); it is kept in this browser only and sent as X-Api-Key.";
        els.keyInput.value = "";
        els.keyDialog.showModal();
        els.keyInput.focus();
      }
    });
  }

  function settleKeyWaiters(ok) {
    const waiters = state.keyWaiters.splice(0);
    for (const waiter of waiters) {
      if (ok) waiter.resolve();
      else waiter.reject(new ApiError(401, "An API key is needed to use this server."));
    }
  }

  els.keyForm.addEventListener("submit", () => {
    const key = els.keyInput.value.trim();
    if (key) localStorage.setItem(KEY_STORE, key);
    settleKeyWaiters(Boolean(key));
  });
  els.keyCancel.addEventListener("click", () => { els.keyDialog.close(); settleKeyWaiters(false); });
  els.keyForget.addEventListener("click", () => {
    localStorage.removeItem(KEY_STORE);
    els.keyInput.value = "";
    els.keyInput.focus();
  });
  els.keyDialog.addEventListener("cancel", () => settleKeyWaiters(false));
  els.keyButton.addEventListener("click", () => {
    els.keyDialog.querySelector("p").textContent = localStorage.getItem(KEY_STORE)
      ? "A key is saved in this browser. Enter another to replace it, or forget it."
      : "No key is saved. Servers started with LMSA_API_KEYS ask for one.";
    els.keyInput.value = "";
    els.keyDialog.showModal();
  });

  // ---- theme -----------------------------------------------------------------------------

  const darkQuery = window.matchMedia("(prefers-color-scheme: dark)");
  function currentTheme() {
    return document.documentElement.dataset.theme || (darkQuery.matches ? "dark" : "light");
  }
  function applyTheme(theme) {
    if (theme) document.documentElement.dataset.theme = theme;
    else delete document.documentElement.dataset.theme;
    const next = currentTheme() === "dark" ? "light" : "dark";
    els.theme.setAttribute("aria-label", "Switch to " + next + " theme");
  }
  applyTheme(localStorage.getItem(THEME_STORE));
  els.theme.addEventListener("click", () => {
    const next = currentTheme() === "dark" ? "light" : "dark";
    localStorage.setItem(THEME_STORE, next);
    applyTheme(next);
  });
  darkQuery.addEventListener("change", () => applyTheme(localStorage.getItem(THEME_STORE)));

  // ---- alerts and progress ---------------------------------------------------------------

  function hintFor(status, message) {
    const text = String(message || "");
    if (status === 503 || /LM ?Studio|connect|No models loaded|model/i.test(text) && status !== 409 && status !== 429) {
      // The server's own sentence usually says what to start or load; add only what it lacks.
      const advice = /\b(start|load)/i.test(text) ? "" : "Start LM Studio, load a model and turn its server on (Developer tab, or `lms server start`). ";
      return advice + "Then send your message again; `lmsa doctor` checks the connection.";
    }
    if (status === 429) return "Too many requests for now: wait a moment and try again.";
    if (status === 409) return "This conversation is still busy with an earlier turn: wait for it, or stop it, then try again.";
    if (status === 0) return "Check that `lmsa serve` is still running and reachable.";
    if (status === 413) return "Send a shorter message.";
    return "";
  }

  function showError(error, title) {
    const status = error instanceof ApiError ? error.status : 0;
    let heading = title || "Something went wrong.";
    if (status === 429) {
      heading = "Rate limited.";
    } else if (status === 409) {
      heading = "Busy thread.";
    } else if (status === 503) {
      heading = "The model server is unavailable.";
    }
    let text = error.message || String(error);
    if (status === 429 && error.retryAfter) text += " (retry after " + error.retryAfter + " s)";
    els.alertTitle.textContent = heading;
    els.alertText.textContent = text;
    els.alertHint.textContent = hintFor(status, text);
    els.alert.hidden = false;
  }

  function clearError() { els.alert.hidden = true; }
  els.alertClose.addEventListener("click", clearError);

  function setStatus(text) {
    if (text) {
      els.statusText.textContent = text;
      els.status.hidden = false;
    } else {
      els.status.hidden = true;
    }
  }

  function setRunning(running) {
    // Screen readers hear the answer once it is complete, not token by token.
    els.log.setAttribute("aria-busy", String(running));
    els.send.hidden = running;
    els.stop.hidden = !running;
    els.input.disabled = false;
    if (!running) setStatus(null);
  }

  // ---- rendering messages ----------------------------------------------------------------

  function textOf(content) {
    if (typeof content === "string") return content;
    if (Array.isArray(content)) {
      return content.map((part) => (typeof part === "string" ? part : part && part.type === "text" ? part.text || "" : "")).join("");
    }
    return content ? String(content) : "";
  }

  function addUser(text) {
    els.empty.hidden = true;
    const node = h("div", { class: "msg user" }, h("div", { class: "bubble", text }));
    els.log.append(node);
    scrollToEnd();
    return node;
  }

  function addAssistant(text) {
    els.empty.hidden = true;
    const body = h("div", { class: "bubble md" });
    const node = h("div", { class: "msg assistant" }, body);
    body.innerHTML = renderMarkdown(text || "");
    els.log.append(node);
    scrollToEnd();
    return { node, body, text: text || "" };
  }

  function addNote(text) {
    const node = h("div", { class: "msg note" }, h("div", { class: "bubble", text }));
    els.log.append(node);
    scrollToEnd();
    return node;
  }

  function summarizeArgs(args) {
    if (!args || typeof args !== "object") return "";
    const first = Object.values(args)[0];
    const text = typeof first === "string" ? first : JSON.stringify(first);
    return text && text.length > 60 ? text.slice(0, 57) + "..." : text || "";
  }

  function toolResults(results) {
    if (!results || !results.length) return null;
    const details = h("details", { class: "tools" },
      h("summary", { text: "Tool results (" + results.length + ")" }));
    for (const result of results) {
      const outcome = result.ok
        ? h("span", { class: "ok", text: "ok" })
        : h("span", { class: "failed", text: result.skipped ? "skipped" : "failed" });
      const body = result.ok ? result.output : result.error;
      const text = body === null || body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body, null, 2);
      // The server keeps raw tool output out of the API (it may hold what the guard withheld).
      const withheld = result.ok && result.output_withheld
        ? h("div", { class: "muted small", text: "Output not shown over HTTP." }) : null;
      details.append(h("div", { class: "tool" },
        h("code", { text: result.tool }), " ", summarizeArgs(result.args), " \u2014 ", outcome,
        text ? h("pre", { text }) : withheld));
    }
    return details;
  }

  function clearLog() {
    for (const node of Array.from(els.log.children)) if (node !== els.empty) node.remove();
    els.empty.hidden = false;
  }

  function renderConversation(values) {
    clearLog();
    const messages = (values && values.messages) || [];
    let lastAssistant = null;
    for (const message of messages) {
      const type = message.type || message.role;
      const text = textOf(message.content);
      if (type === "human" || type === "user") addUser(text);
      else if ((type === "ai" || type === "assistant") && text) lastAssistant = addAssistant(text);
    }
    if (lastAssistant && values.results && values.results.length) {
      lastAssistant.node.append(toolResults(values.results));
    }
  }

  // ---- interrupts ------------------------------------------------------------------------

  // What the graph waits for, whichever shape the server gives it: Agent Inbox
  // ({action_requests, review_configs}), lmsa's own ({kind: "approval" | "clarification"})
  // or a bare question.
  function describeInterrupt(item) {
    const value = item && "value" in item ? item.value : item;
    const inbox = Boolean(value && Array.isArray(value.action_requests) && value.action_requests.length);
    if (value && (inbox || value.kind === "approval")) {
      const action = inbox ? value.action_requests[0] : {};
      const config = inbox ? (value.review_configs || [])[0] || {} : {};
      // lmsa's own fields (risk, reason, purpose) read better than the generic description.
      const own = [
        value.reason && "Risk " + (value.risk || "?") + ": " + value.reason + ".",
        value.purpose && "Purpose: " + value.purpose,
      ].filter(Boolean).join(" ");
      return {
        kind: "approval", inbox, id: item.id,
        tool: value.tool || action.name || action.action,
        args: value.args || action.args || {},
        description: own || action.description || "",
        error: value.error || null,
        allowed: config.allowed_decisions || ["approve", "edit", "reject"],
      };
    }
    const question = typeof value === "string" ? value : value && (value.question || value.description);
    return { kind: "clarification", id: item && item.id, question: question || JSON.stringify(value) };
  }

  function decisionPayload(info, type, extra) {
    if (info.inbox) {
      if (type === "approve") return { decisions: [{ type: "approve" }] };
      if (type === "reject") return { decisions: [{ type: "reject", message: extra || undefined }] };
      return { decisions: [{ type: "edit", edited_action: { name: info.tool, args: extra } }] };
    }
    if (type === "approve") return { decision: "approve" };
    if (type === "reject") return { decision: "reject", reason: extra || undefined };
    return { decision: "edit", args: extra };
  }

  function resumeWith(info, value, card, summary) {
    card.classList.add("done");
    for (const control of card.querySelectorAll("button, textarea, input")) control.disabled = true;
    card.append(h("p", { class: "muted small", text: summary }));
    runTurn({ command: { resume: value } });
  }

  function showInterrupt(item) {
    const info = describeInterrupt(item);
    els.empty.hidden = true;
    if (info.kind === "clarification") {
      const answer = h("input", { type: "text", "aria-label": "Your answer", required: true, autocomplete: "off" });
      const form = h("form", { class: "row" }, answer, h("button", { type: "submit", class: "btn primary", text: "Answer" }));
      const card = h("div", { class: "card clarification" },
        h("h3", { text: "The assistant asks" }), h("p", { class: "question", text: info.question }), form);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const text = answer.value.trim();
        if (!text) return;
        resumeWith(info, { answer: text }, card, "You answered: " + text);
      });
      els.log.append(card);
      scrollToEnd();
      answer.focus();
      return;
    }
    const argsText = JSON.stringify(info.args, null, 2);
    const call = h("pre", { class: "call" }, h("code", { text: info.tool + " " + argsText }));
    const buttons = h("div", { class: "row" });
    const card = h("div", { class: "card approval" },
      h("h3", {}, "Approve this call? ", h("code", { text: info.tool })),
      info.description ? h("p", { class: "small", text: info.description }) : null,
      info.error ? h("p", { class: "small error", text: "Your last edit was not accepted: " + info.error }) : null,
      call, buttons);
    const extra = h("div", { class: "extra" });
    card.append(extra);
    const allowed = new Set(info.allowed);
    if (allowed.has("approve")) {
      buttons.append(h("button", { type: "button", class: "btn primary", text: "Approve",
        onclick: () => resumeWith(info, decisionPayload(info, "approve"), card, "You approved " + info.tool + ".") }));
    }
    if (allowed.has("reject")) {
      buttons.append(h("button", { type: "button", class: "btn danger", text: "Reject",
        onclick: () => {
          extra.replaceChildren();
          const reason = h("input", { type: "text", "aria-label": "Why (optional, told to the assistant)", placeholder: "Why? (optional, told to the assistant)" });
          const form = h("form", { class: "row" }, reason, h("button", { type: "submit", class: "btn danger", text: "Reject call" }));
          form.addEventListener("submit", (event) => {
            event.preventDefault();
            const why = reason.value.trim();
            resumeWith(info, decisionPayload(info, "reject", why), card,
              "You rejected " + info.tool + (why ? ": " + why : "."));
          });
          extra.append(form);
          reason.focus();
        } }));
    }
    if (allowed.has("edit")) {
      buttons.append(h("button", { type: "button", class: "btn", text: "Edit arguments",
        onclick: () => {
          extra.replaceChildren();
          const area = h("textarea", { class: "mono", rows: String(Math.min(12, argsText.split("\n").length + 1)), "aria-label": "Arguments (JSON)" });
          area.value = argsText;
          const problem = h("p", { class: "small error", role: "alert" });
          const form = h("form", {}, area, problem,
            h("div", { class: "row" }, h("button", { type: "submit", class: "btn primary", text: "Run with these arguments" })));
          form.addEventListener("submit", (event) => {
            event.preventDefault();
            let args;
            try {
              args = JSON.parse(area.value);
              if (!args || typeof args !== "object" || Array.isArray(args)) throw new Error("the arguments must be a JSON object");
            } catch (error) {
              problem.textContent = "Not valid: " + error.message;
              return;
            }
            resumeWith(info, decisionPayload(info, "edit", args), card, "You edited the arguments of " + info.tool + ".");
          });
          extra.append(form);
          area.focus();
        } }));
    }
    els.log.append(card);
    scrollToEnd();
    const first = buttons.querySelector("button");
    if (first) first.focus();
  }

  function pendingInterrupts(threadState) {
    if (!threadState) return [];
    if (Array.isArray(threadState.interrupts) && threadState.interrupts.length) return threadState.interrupts;
    const found = [];
    for (const task of threadState.tasks || []) for (const item of task.interrupts || []) found.push(item);
    return found;
  }

  // ---- a turn ------------------------------------------------------------------------------

  async function ensureAssistant() {
    if (state.assistantId) return state.assistantId;
    try {
      const found = await api("POST", "assistants/search", { limit: 10, offset: 0 });
      state.assistantId = (found && found.length && (found.find((a) => a.graph_id === "assistant") || found[0]).assistant_id) || "assistant";
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) state.assistantId = "assistant";
      else throw error;
    }
    return state.assistantId;
  }

  function stepFor(node, update) {
    if (node === "plan") {
      const steps = (update && update.plan && update.plan.steps) || [];
      if (steps.length) return "Running " + steps.map((s) => s.tool + (summarizeArgs(s.args) ? " " + summarizeArgs(s.args) : "")).join(", ");
      return "Writing the answer";
    }
    if (node === "classify_intent" && update && update.intent && update.intent.intent === "conversation") {
      return "Writing the answer";
    }
    return NEXT_STEP[node] || null;
  }

  async function runTurn(payload, userText) {
    clearError();
    const threadId = state.threadId;
    const controller = new AbortController();
    const run = { controller, runId: null, threadId, stopped: false };
    state.running = run;
    setRunning(true);
    setStatus(userText !== undefined ? "Understanding your request" : "Continuing");
    let answer = null;
    let answerText = "";
    let lastValues = null;
    let failed = false;
    let frame = 0;
    const draw = () => {
      frame = 0;
      answer.body.innerHTML = renderMarkdown(answerText);
      answer.body.classList.add("cursor");
      scrollToEnd();
    };
    try {
      const assistant = await ensureAssistant();
      const body = Object.assign({
        assistant_id: assistant,
        stream_mode: STREAM_MODES,
        on_disconnect: "cancel",
      }, payload);
      const response = await request("POST", "threads/" + encodeURIComponent(threadId) + "/runs/stream", body, { signal: controller.signal });
      for await (const { event, data } of sse(response)) {
        const kind = event.split("|")[0];
        if (kind === "metadata" && data && data.run_id) {
          run.runId = data.run_id;
        } else if (kind === "messages" && Array.isArray(data)) {
          const [chunk, meta] = data;
          if (!meta || meta.langgraph_node !== ANSWER_NODE || !chunk) continue;
          const piece = textOf(chunk.content);
          if (!piece) continue;
          if (!answer) answer = addAssistant("");
          answerText += piece;
          setStatus("Writing the answer");
          if (!frame) frame = requestAnimationFrame(draw);
        } else if (kind === "updates" && data && typeof data === "object") {
          for (const [node, update] of Object.entries(data)) {
            if (node === "__interrupt__") continue;
            const step = stepFor(node, update);
            if (step && !answer) setStatus(step);
          }
        } else if (kind === "values" && data && typeof data === "object") {
          lastValues = data;
        } else if (kind === "error") {
          failed = true;
          const message = messageOf(data, "The run failed.");
          const status = /LM ?Studio|connect|unavailable|No models loaded/i.test(message) ? 503 : 500;
          showError(new ApiError(status, message), "The turn failed.");
        }
      }
    } catch (error) {
      if (error.name === "AbortError") {
        run.stopped = true;
      } else {
        failed = true;
        showError(error);
      }
    } finally {
      if (frame) cancelAnimationFrame(frame);
      if (state.running === run) state.running = null;
      setRunning(false);
    }
    if (answer) answer.body.classList.remove("cursor");
    if (run.stopped) {
      if (answer) answer.body.innerHTML = renderMarkdown(answerText);
      addNote("Stopped. What finished before you stopped is kept; send a message to go on.");
      refreshThreads();
      return;
    }
    if (state.threadId !== threadId) return; // the user switched threads meanwhile
    let threadState = null;
    try {
      threadState = await api("GET", "threads/" + encodeURIComponent(threadId) + "/state");
    } catch (error) {
      if (!failed) showError(error);
    }
    const values = (threadState && threadState.values) || lastValues || {};
    const interrupts = pendingInterrupts(threadState);
    const final = values.answer || "";
    if (!interrupts.length && !failed) {
      if (!answer && final) answer = addAssistant(final);
      else if (answer && final && final !== answerText) answer.body.innerHTML = renderMarkdown(final);
      else if (answer) answer.body.innerHTML = renderMarkdown(answerText);
      if (answer && values.results && values.results.length) answer.node.append(toolResults(values.results));
    }
    for (const item of interrupts.slice(0, 1)) showInterrupt(item);
    refreshThreads();
  }

  // Aborting the request is the whole of stopping: runs are started with
  // on_disconnect "cancel", so the server cancels the run when the stream goes away.
  function stopTurn() {
    const run = state.running;
    if (run) run.controller.abort();
  }

  function titleFrom(text) {
    const line = text.replace(/\s+/g, " ").trim();
    return line.length > 60 ? line.slice(0, 57) + "..." : line;
  }

  async function send(text) {
    if (state.running) return;
    clearError();
    try {
      if (!state.threadId) {
        const thread = await api("POST", "threads", { metadata: { title: titleFrom(text) } });
        selectThread(thread.thread_id, { render: false });
      }
    } catch (error) {
      showError(error);
      return;
    }
    // New input starts a new turn (the server drops the pending question), so its card closes.
    for (const card of els.log.querySelectorAll(".card:not(.done)")) {
      card.classList.add("done");
      for (const control of card.querySelectorAll("button, textarea, input")) control.disabled = true;
    }
    addUser(text);
    await runTurn({ input: { messages: [{ type: "human", content: text }] } }, text);
  }

  // ---- threads -----------------------------------------------------------------------------

  function threadTitle(thread) {
    const meta = thread.metadata || {};
    if (meta.title) return String(meta.title);
    const messages = (thread.values && thread.values.messages) || [];
    const first = messages.find((m) => (m.type || m.role) === "human" || m.role === "user");
    return first ? titleFrom(textOf(first.content)) : "New chat";
  }

  function renderThreads() {
    els.threads.replaceChildren();
    for (const thread of state.threads) {
      const id = thread.thread_id;
      const title = threadTitle(thread);
      const item = h("li", { class: "thread" + (id === state.threadId ? " active" : ""), "data-thread": id });
      const open = h("button", { type: "button", class: "thread-open", title, "aria-current": id === state.threadId ? "page" : null,
        onclick: () => { selectThread(id); closeSidebar(); } }, title,
        thread.status === "interrupted" ? h("span", { class: "thread-badge", text: "\u2022 waiting" }) : null);
      const rename = h("button", { type: "button", class: "btn icon tiny", "aria-label": "Rename " + title, title: "Rename", text: "\u270E",
        onclick: () => startRename(item, thread) });
      const remove = h("button", { type: "button", class: "btn icon tiny", "aria-label": "Delete " + title, title: "Delete", text: "\u2715",
        onclick: () => deleteThread(thread) });
      item.append(open, h("span", { class: "thread-actions" }, rename, remove));
      els.threads.append(item);
    }
    els.threadsNote.hidden = state.threads.length > 0;
    els.threadsNote.textContent = "No conversations yet.";
    const current = state.threads.find((t) => t.thread_id === state.threadId);
    els.title.textContent = current ? threadTitle(current) : "lmsa";
    document.title = current ? threadTitle(current) + " \u2013 lmsa" : "lmsa chat";
  }

  async function refreshThreads() {
    try {
      const found = await api("POST", "threads/search", { limit: 50, offset: 0, sort_by: "updated_at", sort_order: "desc" });
      state.threads = Array.isArray(found) ? found : [];
    } catch (error) {
      showError(error, "Could not list conversations.");
      return;
    }
    if (state.threadId && !state.threads.some((t) => t.thread_id === state.threadId)) {
      state.threads.unshift({ thread_id: state.threadId, metadata: {}, values: {} });
    }
    renderThreads();
  }

  function startRename(item, thread) {
    const input = h("input", { type: "text", class: "thread-rename", "aria-label": "New name" });
    input.value = threadTitle(thread);
    item.replaceChildren(input);
    input.focus();
    input.select();
    let done = false;
    const finish = async (save) => {
      if (done) return;
      done = true;
      const title = input.value.trim();
      if (save && title && title !== threadTitle(thread)) {
        try {
          await api("PATCH", "threads/" + encodeURIComponent(thread.thread_id), { metadata: { title } });
          thread.metadata = Object.assign({}, thread.metadata, { title });
        } catch (error) {
          showError(error, "Could not rename the conversation.");
        }
      }
      renderThreads();
    };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { event.preventDefault(); finish(true); }
      if (event.key === "Escape") { event.preventDefault(); finish(false); }
    });
    input.addEventListener("blur", () => finish(true));
  }

  async function deleteThread(thread) {
    if (!window.confirm("Delete \u201C" + threadTitle(thread) + "\u201D? This cannot be undone.")) return;
    try {
      await api("DELETE", "threads/" + encodeURIComponent(thread.thread_id));
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) {
        showError(error, "Could not delete the conversation.");
        return;
      }
    }
    state.threads = state.threads.filter((t) => t.thread_id !== thread.thread_id);
    if (thread.thread_id === state.threadId) selectThread(null);
    else renderThreads();
  }

  async function selectThread(id, options) {
    const render = !options || options.render !== false;
    if (state.running && state.running.threadId !== id) stopTurn();
    state.threadId = id;
    if (id) {
      localStorage.setItem(LAST_THREAD, id);
      if (location.hash !== "#" + id) history.replaceState(null, "", "#" + encodeURIComponent(id));
    } else {
      localStorage.removeItem(LAST_THREAD);
      history.replaceState(null, "", location.pathname + location.search);
    }
    clearError();
    renderThreads();
    if (!render) return;
    clearLog();
    if (!id) { els.input.focus(); return; }
    try {
      const threadState = await api("GET", "threads/" + encodeURIComponent(id) + "/state");
      if (state.threadId !== id) return;
      renderConversation(threadState.values || {});
      for (const item of pendingInterrupts(threadState).slice(0, 1)) showInterrupt(item);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        showError(error, "That conversation no longer exists.");
        state.threads = state.threads.filter((t) => t.thread_id !== id);
        selectThread(null);
      } else {
        showError(error, "Could not load the conversation.");
      }
    }
  }

  // ---- layout, keyboard --------------------------------------------------------------------

  function closeSidebar() {
    els.app.classList.remove("show-sidebar");
    els.scrim.hidden = true;
    els.menu.setAttribute("aria-expanded", "false");
  }
  els.menu.addEventListener("click", () => {
    const open = !els.app.classList.contains("show-sidebar");
    els.app.classList.toggle("show-sidebar", open);
    els.scrim.hidden = !open;
    els.menu.setAttribute("aria-expanded", String(open));
  });
  els.scrim.addEventListener("click", closeSidebar);
  els.newThread.addEventListener("click", () => { selectThread(null); closeSidebar(); });

  function autosize() {
    els.input.style.height = "auto";
    els.input.style.height = Math.min(els.input.scrollHeight + 2, window.innerHeight * 0.4) + "px";
  }
  els.input.addEventListener("input", autosize);
  els.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      els.form.requestSubmit();
    }
  });
  els.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = els.input.value.trim();
    if (!text || state.running) return;
    els.input.value = "";
    autosize();
    send(text);
  });
  els.stop.addEventListener("click", stopTurn);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.running && !els.keyDialog.open) stopTurn();
  });
  window.addEventListener("hashchange", () => {
    const id = decodeURIComponent(location.hash.slice(1));
    if (id && id !== state.threadId) selectThread(id);
  });

  // ---- start -------------------------------------------------------------------------------

  async function start() {
    const fromHash = decodeURIComponent(location.hash.slice(1));
    const id = fromHash || localStorage.getItem(LAST_THREAD);
    await refreshThreads();
    if (id) await selectThread(id);
    els.input.focus();
  }
  start();
})();
