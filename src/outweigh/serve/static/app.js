// The outweigh page: chat, documents, memory, plan and eval over this server's own API.
// Plain ES module, no build step, no third-party code. Model and document text is shown
// through markdown.js (DOM nodes + textContent), never as HTML.

import { render } from "./markdown.js";
import { barChart, stackedBar } from "./charts.js";

const $ = (id) => document.getElementById(id);
const KEY = "outweigh.key"; // sessionStorage: this tab only
const USER = "outweigh.user"; // localStorage: not a secret

// -- API ----------------------------------------------------------------------------------
let keyPrompt = null;

/** Ask for the API key once; concurrent 401s share one prompt. */
function askKey(message) {
  if (!keyPrompt) {
    keyPrompt = new Promise((resolve) => {
      const dialog = $("key-dialog");
      $("key-why").textContent = message;
      $("key").value = "";
      dialog.onclose = () => {
        const key = $("key").value.trim();
        if (key) sessionStorage.setItem(KEY, key);
        keyPrompt = null;
        resolve(Boolean(key));
      };
      dialog.showModal();
    });
  }
  return keyPrompt;
}

function authHeaders(headers = {}) {
  const key = sessionStorage.getItem(KEY);
  return key ? { ...headers, Authorization: `Bearer ${key}` } : headers;
}

/** fetch with the key; a 401 asks for the key and tries again. */
async function api(path, { json, ...init } = {}) {
  for (;;) {
    const headers = authHeaders(json === undefined ? {} : { "Content-Type": "application/json" });
    const body = json === undefined ? init.body : JSON.stringify(json);
    const res = await fetch(path, { ...init, headers, body });
    if (res.status !== 401) return res;
    if (!(await askKey(await errorOf(res)))) return res;
  }
}

/** The one-line message of an error response, as the server wrote it. */
async function errorOf(res) {
  const text = await res.text();
  try {
    return JSON.parse(text).error.message;
  } catch {
    return text.trim() || `${res.status} ${res.statusText}`;
  }
}

async function getJSON(path, init) {
  const res = await api(path, init);
  if (!res.ok) throw new Error(await errorOf(res));
  return res.json();
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(text, onClick, className = "quiet") {
  const b = el("button", className, text);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

const fmt = new Intl.NumberFormat();
const gb = (bytes) => `${(bytes / 1e9).toFixed(bytes >= 1e10 ? 1 : 2)} GB`;
const secs = (ms) => `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;

// -- tabs ---------------------------------------------------------------------------------
const tabs = [...document.querySelectorAll('[role="tab"]')];
const onShow = {};

function showTab(tab) {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute("aria-selected", String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute("aria-controls")).hidden = !on;
  }
  onShow[tab.getAttribute("aria-controls")]?.();
}

tabs.forEach((tab, i) => {
  tab.addEventListener("click", () => showTab(tab));
  tab.addEventListener("keydown", (e) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
    if (step) {
      const next = tabs[(i + step + tabs.length) % tabs.length];
      next.focus();
      showTab(next);
    }
  });
});
document.addEventListener("keydown", (e) => {
  if (e.altKey && e.key >= "1" && e.key <= String(tabs.length)) {
    e.preventDefault();
    showTab(tabs[Number(e.key) - 1]);
    tabs[Number(e.key) - 1].focus();
  }
});

// -- who ----------------------------------------------------------------------------------
// The key says who is asking (GET /v1/me): a user's page sends no `user` at all, and the
// server keeps memory for the key's user. Only the operator (the server's own key, or a
// loopback server with no users) names whose memory, in the "You" box.
let me = null;
const userField = $("user");
userField.value = localStorage.getItem(USER) || "";
const naming = () => Boolean(me && me.operator);
const user = () => (naming() ? userField.value.trim() : me?.name || "");
/** `?user=NAME` for the operator, nothing for a user (the key names them). */
const userQuery = () => (naming() && user() ? `user=${encodeURIComponent(user())}` : "");
/** Memory is kept per user: without one, the switch is off and says why. */
function memoryToggle() {
  const box = $("memory-on");
  box.disabled = !user();
  box.parentElement.title = user() ? `recall and record what ${user()} says` : "enter a name at the top to use memory";
}
userField.addEventListener("input", memoryToggle);
userField.addEventListener("change", () => {
  localStorage.setItem(USER, userField.value.trim());
  if (!$("memory").hidden) loadMemories();
});

async function loadMe() {
  try {
    me = await getJSON("/v1/me");
  } catch (e) {
    $("me").textContent = e.message;
    return;
  }
  $("user-label").hidden = !naming();
  $("switch-key").hidden = !me.keys;
  if (naming()) {
    $("user-title").textContent = me.keys ? "Acting for" : "You";
    $("me").textContent = me.keys ? "operator key" : "no keys on this server:";
    userField.placeholder = me.keys ? "user name" : "name, for memory";
  } else {
    $("me").textContent = `Signed in as ${me.name}${me.admin ? " (admin)" : ""}`;
  }
  memoryToggle();
}
$("switch-key").addEventListener("click", async () => {
  sessionStorage.removeItem(KEY);
  if (await askKey("Paste the key `outweigh users add` printed for you.")) {
    await loadMe();
    if (!$("memory").hidden) loadMemories();
  }
});
memoryToggle();

// -- models and collections ---------------------------------------------------------------
let collections = [];

async function loadModels() {
  const models = (await getJSON("/v1/models")).data;
  const select = $("model");
  const was = select.value;
  select.replaceChildren(
    ...models.map((m) => {
      const o = el("option", null, m.parent ? `${m.id} (adapter on ${m.parent})` : m.id);
      o.value = m.id;
      return o;
    }),
  );
  if (models.some((m) => m.id === was)) select.value = was;
}

async function loadCollections() {
  collections = (await getJSON("/v1/collections")).data;
  const select = $("collection");
  const was = select.value;
  select.replaceChildren(
    ...collections.map((c) => {
      const o = el("option", null, `${c.name} (${fmt.format(c.documents)} docs)`);
      o.value = c.name;
      return o;
    }),
  );
  if (collections.some((c) => c.name === was)) select.value = was;
  $("rag").disabled = collections.length === 0;
  $("collection-names").replaceChildren(
    ...collections.map((c) => {
      const o = el("option");
      o.value = c.name;
      return o;
    }),
  );
  const body = $("collections-table").tBodies[0];
  body.replaceChildren(
    ...collections.map((c) => {
      const row = el("tr");
      const name = button(c.name, () => {
        $("doc-collection").value = c.name;
        loadDocuments();
      });
      const cell = el("td");
      cell.append(name);
      row.append(cell, el("td", "num", fmt.format(c.documents)), el("td", "num", fmt.format(c.chunks)));
      return row;
    }),
  );
}

// -- chat ---------------------------------------------------------------------------------
const history = []; // {role, content} turns sent with each request
let running = null; // the AbortController of the answer being streamed

/** Where a passage is from: its collection, and who uploaded it (or that it was ingested). */
function origin(c) {
  if (!c.collection) return "";
  const how = c.origin === "uploaded" ? `uploaded by ${c.uploader || "the operator"}` : "ingested";
  return ` · ${c.collection}, ${how}`;
}

// "report.pdf, p. 12, §3.2 Budget": the source's file name and where in it the passage is.
function located(c) {
  const name = c.source.split("/").pop();
  return c.where ? `${name}, ${c.where}` : c.source;
}

function showPassage(c) {
  $("passage-title").textContent = `[${c.n}] ${located(c)}${origin(c)}`;
  $("passage-text").replaceChildren(render(c.text));
  // Selection's lines (null when it was off) may come from the document's other chunks.
  $("passage-excerpt").textContent = c.excerpt || "";
  $("passage-read").hidden = !c.excerpt;
  $("passage").showModal();
}

function citeButton(c) {
  const b = button(`[${c.n}]`, () => showPassage(c), "cite");
  b.title = `${located(c)}${origin(c)}: open the cited passage`;
  return b;
}

/** Draw `text` into an answer; markers become buttons once the citations are known. */
function drawAnswer(body, text, citations) {
  const byN = citations && new Map(citations.map((c) => [c.n, c]));
  const cite = byN ? (n) => (byN.has(n) ? citeButton(byN.get(n)) : null) : null;
  body.replaceChildren(render(text, cite));
}

function addTurn(role, text) {
  const turn = el("article", `turn ${role}`);
  const body = el("div", "answer");
  turn.append(body);
  if (role === "user") body.textContent = text;
  $("log").append(turn);
  turn.scrollIntoView({ block: "end" });
  return turn;
}

async function send(question) {
  await pageReady; // a message typed while the page loads waits for the model list
  const model = $("model").value;
  const collection = $("collection").value;
  const rag = Boolean(collection) && $("rag").checked;
  const messages = [...history, { role: "user", content: question }];
  addTurn("user", question);
  const turn = addTurn("assistant", "");
  const body = turn.querySelector(".answer");
  body.classList.add("pending");
  const meta = el("p", "meta", `${model} · waiting…`);
  turn.append(meta);

  const request = {
    model,
    messages,
    stream: true,
    stream_options: { include_usage: true },
    rag,
    memory: Boolean(user()) && $("memory-on").checked,
  };
  const maxTokens = Number($("max-tokens").value);
  if (maxTokens > 0) request.max_tokens = maxTokens;
  if (collection) request.collection = collection;
  if (naming() && user()) request.user = user();

  running = new AbortController();
  $("stop").disabled = false;
  $("send").disabled = true;
  const started = performance.now();
  let text = "";
  let first = null;
  let usage = null;
  let citations = [];
  let frame = 0; // the render waiting for the next animation frame, if any
  const redraw = () => {
    frame = 0;
    drawAnswer(body, text, null);
  };
  try {
    const res = await api("/v1/chat/completions", {
      method: "POST",
      json: request,
      signal: running.signal,
    });
    if (!res.ok) throw new Error(await errorOf(res));
    for await (const event of sse(res.body)) {
      if (event.error) throw new Error(event.error.message);
      for (const choice of event.choices || []) {
        if (choice.index === 0 && choice.delta?.content) {
          first ??= performance.now();
          text += choice.delta.content;
          frame ||= requestAnimationFrame(redraw); // at most one render per frame
        }
      }
      if (event.usage) usage = event.usage;
      if (event.citations) citations = event.citations;
    }
    cancelAnimationFrame(frame);
    history.push({ role: "user", content: question }, { role: "assistant", content: text });
    finish(turn, body, meta, { model, text, citations, usage, started, first });
  } catch (e) {
    cancelAnimationFrame(frame);
    body.classList.remove("pending");
    if (e.name === "AbortError") {
      drawAnswer(body, text, null);
      meta.textContent = `${model} · stopped after ${secs(performance.now() - started)}`;
    } else {
      drawAnswer(body, text, null);
      turn.append(el("p", "error", e.message));
      meta.textContent = model;
    }
  } finally {
    running = null;
    $("stop").disabled = true;
    $("send").disabled = false;
    $("prompt").focus();
  }
}

function finish(turn, body, meta, { model, text, citations, usage, started, first }) {
  body.classList.remove("pending");
  drawAnswer(body, text, citations);
  const parts = [model];
  if (first !== null) parts.push(`first token ${secs(first - started)}`);
  parts.push(`${secs(performance.now() - started)} in all`);
  if (usage) {
    parts.push(
      `${fmt.format(usage.prompt_tokens)} prompt + ${fmt.format(usage.completion_tokens)} answer tokens`,
    );
  }
  meta.textContent = parts.join(" · ");
  if (citations.length) {
    const sources = el("p", "sources", "Sources: ");
    citations.forEach((c, i) => {
      if (i) sources.append(" ");
      sources.append(citeButton(c), ` ${located(c)}`);
    });
    turn.append(sources);
  }
  turn.scrollIntoView({ block: "end" });
}

/** The JSON events of a server-sent event stream, until `[DONE]`. */
async function* sse(stream) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split("\n")
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trimStart())
        .join("\n");
      if (data === "[DONE]") return;
      if (data) yield JSON.parse(data);
    }
  }
}

$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const question = $("prompt").value.trim();
  if (!question || running) return;
  $("prompt").value = "";
  send(question);
});
$("prompt").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $("composer").requestSubmit();
  }
});
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && running && !document.querySelector("dialog[open]")) running.abort();
});
$("stop").addEventListener("click", () => running?.abort());
$("clear").addEventListener("click", () => {
  running?.abort();
  history.length = 0;
  $("log").replaceChildren();
  $("prompt").focus();
});

// -- documents ----------------------------------------------------------------------------
const docCollection = () => $("doc-collection").value.trim();

let shownCollection = null; // whose documents the table shows

async function loadDocuments() {
  const name = docCollection();
  const body = $("docs-table").tBodies[0];
  $("docs-title").textContent = `Documents in ${name || "…"}`;
  shownCollection = name;
  if (!name) {
    body.replaceChildren();
    return;
  }
  let docs;
  try {
    docs = (await getJSON(`/v1/collections/${encodeURIComponent(name)}/documents`)).data;
  } catch (e) {
    body.replaceChildren();
    $("docs-status").textContent = e.message;
    return;
  }
  if (name !== shownCollection) return; // another collection was chosen meanwhile
  $("docs-status").textContent = docs.length ? "" : "No documents yet.";
  // Rows are replaced only once the new list is here, so a click never lands on a gap.
  body.replaceChildren(
    ...docs.map((d) => {
      const row = el("tr");
      const del = button("Delete", () => deleteDocument(name, d, row));
      del.setAttribute("aria-label", `Delete ${d.source}`);
      const cell = el("td");
      cell.append(del);
      row.append(
        el("td", null, d.origin === "uploaded" && d.uploader ? `${d.source} (${d.uploader})` : d.source),
        el("td", "num", fmt.format(d.n_chunks)),
        el("td", "num", fmt.format(d.bytes)),
        el("td", null, d.ingested.replace("T", " ").slice(0, 16)),
        cell,
      );
      return row;
    }),
  );
}

async function deleteDocument(name, doc, row) {
  const res = await api(`/v1/collections/${encodeURIComponent(name)}/documents/${doc.id}`, {
    method: "DELETE",
  });
  if (!res.ok) {
    $("docs-status").textContent = await errorOf(res);
    return;
  }
  row.remove();
  $("docs-status").textContent = `Deleted ${doc.source}.`;
  loadCollections();
}

/** POST one file; `progress(fraction)` while its bytes go up. XHR, for upload progress. */
function postFile(url, file, progress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => e.lengthComputable && progress(e.loaded / e.total);
    xhr.upload.onload = () => progress(1);
    xhr.onload = () => resolve(xhr);
    xhr.onerror = () => reject(new Error("the server could not be reached"));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

async function upload(files) {
  const name = docCollection();
  if (!name) {
    $("doc-collection").focus();
    return;
  }
  const url = `/v1/collections/${encodeURIComponent(name)}/documents`;
  for (const file of files) {
    const line = el("li", null, `${file.name}: waiting`);
    $("uploads").append(line);
    const say = (text, className) => {
      line.textContent = `${file.name}: ${text}`;
      line.className = className || "";
    };
    try {
      let xhr;
      for (;;) {
        xhr = await postFile(url, file, (f) =>
          say(f < 1 ? `uploading ${Math.round(f * 100)}%` : "ingesting…"),
        );
        if (xhr.status !== 401) break;
        if (!(await askKey(errorMessage(xhr)))) break;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        const { document: d, unchanged } = JSON.parse(xhr.responseText);
        say(
          unchanged
            ? `unchanged, already in ${name}`
            : `added to ${name}: ${fmt.format(d.n_chunks)} chunks`,
          "ok",
        );
      } else {
        say(errorMessage(xhr), "error");
      }
    } catch (e) {
      say(e.message, "error");
    }
  }
  await Promise.allSettled([loadDocuments(), loadCollections()]);
}

function errorMessage(xhr) {
  try {
    return JSON.parse(xhr.responseText).error.message;
  } catch {
    return `${xhr.status} ${xhr.statusText}`;
  }
}

const drop = $("drop");
drop.addEventListener("dragover", (e) => {
  e.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  upload([...e.dataTransfer.files]);
});
drop.addEventListener("click", () => $("files").click());
drop.addEventListener("keydown", (e) => {
  if (e.key === "Enter" || e.key === " ") {
    e.preventDefault();
    $("files").click();
  }
});
$("files").addEventListener("change", (e) => {
  upload([...e.target.files]);
  e.target.value = "";
});
$("doc-collection").addEventListener("change", () => {
  if (docCollection() !== shownCollection) loadDocuments();
});
$("doc-refresh").addEventListener("click", () => {
  loadCollections();
  loadDocuments();
});
let docCollectionChosen = false;
$("doc-collection").addEventListener("input", () => (docCollectionChosen = true));
onShow.documents = () => {
  // Until one is typed here, the documents shown are those of the collection chat uses.
  if (!docCollectionChosen && $("collection").value) $("doc-collection").value = $("collection").value;
  loadCollections().catch(() => {});
  loadDocuments();
};

// -- memory -------------------------------------------------------------------------------
async function loadMemories() {
  const who = user();
  const body = $("memory-table").tBodies[0];
  body.replaceChildren();
  $("memory-status").textContent = "";
  if (!who) {
    $("memory-who").textContent = "Enter a name at the top to see what outweigh remembers.";
    return;
  }
  $("memory-who").textContent = `What outweigh remembers about ${who}`;
  const query = [userQuery(), $("memory-history").checked ? "history=true" : ""].filter(Boolean);
  let items;
  try {
    items = (await getJSON(`/v1/memories${query.length ? "?" + query.join("&") : ""}`)).data;
  } catch (e) {
    $("memory-status").textContent = e.message;
    return;
  }
  if (!items.length) $("memory-status").textContent = "Nothing remembered yet.";
  body.replaceChildren(
    ...items.map((m) => {
      const row = el("tr");
      const forget = button("Forget", () => forgetMemory(who, m, row));
      forget.setAttribute("aria-label", `Forget: ${m.text}`);
      const cell = el("td");
      cell.append(forget);
      if (!m.current) row.className = "replaced";
      row.append(
        el("td", null, m.current ? m.text : `${m.text} (replaced)`),
        el("td", null, m.kind),
        el("td", null, m.created.replace("T", " ").slice(0, 16)),
        cell,
      );
      return row;
    }),
  );
}

async function forgetMemory(who, memory, row) {
  const query = userQuery();
  const res = await api(`/v1/memories/${memory.id}${query ? "?" + query : ""}`, {
    method: "DELETE",
  });
  if (!res.ok) {
    $("memory-status").textContent = await errorOf(res);
    return;
  }
  $("memory-status").textContent = `Forgot: ${memory.text}, and what it replaced`;
  loadMemories().then(() => ($("memory-status").textContent = `Forgot: ${memory.text}, and what it replaced`));
}

$("memory-refresh").addEventListener("click", loadMemories);
$("memory-history").addEventListener("change", loadMemories);
onShow.memory = loadMemories;

// -- plan ---------------------------------------------------------------------------------
let planOptions = null;

function options(select, items, chosen) {
  select.replaceChildren(
    ...items.map(([value, label]) => {
      const o = el("option", null, label);
      o.value = value;
      return o;
    }),
  );
  if (chosen !== undefined) select.value = chosen;
}

async function loadPlanOptions() {
  if (planOptions) return;
  planOptions = await getJSON("/v1/plan");
  const pairs = (xs) => xs.map((x) => [x, x]);
  options($("plan-model"), pairs(planOptions.models), "qwen2.5-32b");
  options(
    $("plan-gpu"),
    [["", "every GPU"], ...planOptions.gpus.map((g) => [g.id, g.name])],
    planOptions.gpus[0]?.id,
  );
  options($("plan-quant"), pairs(planOptions.quants), "bf16");
  options($("plan-engine"), pairs(planOptions.engines), "transformers");
  $("plan-train").hidden = !planOptions.fields.includes("train");
}

async function makePlan(e) {
  e?.preventDefault();
  const form = new FormData($("plan-form"));
  const body = { gpus: form.get("gpu") ? [form.get("gpu")] : [] };
  for (const field of planOptions.fields) {
    if (field === "gpus" || !form.has(field)) continue;
    const input = $("plan-form").elements[field];
    if (input.type === "checkbox") body[field] = input.checked;
    else if (input.type === "number") body[field] = Number(form.get(field));
    else body[field] = form.get(field);
  }
  if ($("plan-form").elements.train && planOptions.fields.includes("train")) {
    body.train = $("plan-form").elements.train.checked;
  }
  const verdict = $("plan-verdict");
  let plan;
  try {
    plan = await getJSON("/v1/plan", { method: "POST", json: body });
  } catch (err) {
    verdict.className = "error";
    verdict.textContent = err.message;
    $("plan-chart").replaceChildren();
    $("plan-table").replaceChildren();
    return;
  }
  const fits = plan.gpus.filter((g) => g.fits);
  verdict.className = fits.length ? "ok" : "error";
  if (plan.gpus.length === 1) {
    const g = plan.gpus[0];
    verdict.textContent = g.fits
      ? `Fits on ${g.name}: ${gb(plan.total_bytes)} of ${gb(g.memory_bytes - g.reserved_bytes)}, ${gb(g.free_bytes)} free; up to ${fmt.format(g.max_context)} tokens of context.`
      : `Does not fit on ${g.name}: needs ${gb(plan.total_bytes)}, ${gb(-g.free_bytes)} more than the ${gb(g.memory_bytes - g.reserved_bytes)} it has.`;
  } else {
    verdict.textContent = `${plan.model}:${plan.quant} needs ${gb(plan.total_bytes)}; fits on ${fits.length} of ${plan.gpus.length} GPUs.`;
  }
  const title = `${plan.model}:${plan.quant}, context ${fmt.format(plan.context)} + RAG ${fmt.format(plan.rag_tokens)} tokens, batch ${plan.batch}, ${plan.loras} LoRA, ${plan.engine}`;
  $("plan-chart").replaceChildren(
    stackedBar({
      title,
      label: `${plan.model}:${plan.quant}`,
      segments: plan.segments,
      lines: plan.gpus.map((g) => ({
        label: `${g.gpu}: ${gb(g.memory_bytes - g.reserved_bytes)}`,
        bytes: g.memory_bytes - g.reserved_bytes,
      })),
    }),
  );
  const table = $("plan-table");
  const head = el("tr");
  for (const h of ["GPU", "usable", "free", "fits", "max context", "max batch", "tok/s"]) {
    head.append(el("th", null, h));
  }
  table.replaceChildren(el("thead"), el("tbody"));
  table.tHead.append(head);
  for (const g of plan.gpus) {
    const row = el("tr", g.fits ? "" : "no");
    row.append(
      el("td", null, g.name),
      el("td", "num", gb(g.memory_bytes - g.reserved_bytes)),
      el("td", "num", gb(g.free_bytes)),
      el("td", null, g.fits ? "yes" : "no"),
      el("td", "num", fmt.format(g.max_context)),
      el("td", "num", fmt.format(g.max_batch)),
      el("td", "num", g.decode_tokens_per_s.toFixed(1)),
    );
    table.tBodies[0].append(row);
  }
  for (const note of plan.notes) table.tBodies[0].append(noteRow(note));
}

function noteRow(note) {
  const row = el("tr", "note");
  const cell = el("td", "muted", `note: ${note}`);
  cell.colSpan = 7;
  row.append(cell);
  return row;
}

$("plan-form").addEventListener("submit", makePlan);
onShow.plan = () => loadPlanOptions().catch((e) => ($("plan-verdict").textContent = e.message));

// -- eval ---------------------------------------------------------------------------------
// Cost metrics and their direction; every other result is a rate in [0, 1], higher better,
// but the misses (lower better) and the diagnostics with no better side (never highlighted,
// never charted), as outweigh/eval/metrics.py's METRICS says.
const COST = { latency_p50_s: false, tokens_per_s: true, peak_rss_mb: false, peak_vram_mb: false };
const LOWER = new Set(["retrieval_miss", "reading_miss"]);
const DIAGNOSTIC = new Set(["cited_per_answer", "reader_gap"]);

function showEval(result) {
  const configs = Object.keys(result.results);
  const metrics = [...new Set(configs.flatMap((c) => Object.keys(result.results[c])))];
  const shown = metrics.filter((m) => configs.some((c) => result.results[c][m] != null));
  const table = $("eval-table");
  table.replaceChildren(el("thead"), el("tbody"));
  const head = el("tr");
  head.append(el("th", null, "metric"));
  for (const c of configs) head.append(el("th", "num", c));
  table.tHead.append(head);
  for (const m of shown) {
    const values = configs.map((c) => result.results[c][m]);
    const known = values.filter((v) => typeof v === "number");
    const higher = m in COST ? COST[m] : !LOWER.has(m);
    const ranked = known.length > 1 && !DIAGNOSTIC.has(m);
    const best = ranked ? (higher ? Math.max : Math.min)(...known) : null;
    const row = el("tr");
    row.append(el("td", null, m.replaceAll("_", " ")));
    for (const v of values) {
      const text = typeof v === "number" ? (m in COST ? v.toFixed(2) : v.toFixed(3)) : "n/a";
      row.append(el("td", v === best ? "num best" : "num", text));
    }
    table.tBodies[0].append(row);
  }
  const rates = shown.filter((m) => !(m in COST) && !LOWER.has(m) && !DIAGNOSTIC.has(m));
  const chart = $("eval-chart");
  chart.replaceChildren(
    barChart({
      title: "quality (higher is better)",
      groups: rates.map((m) => m.replaceAll("_", " ")),
      series: configs.map((c) => ({ label: c, values: rates.map((m) => result.results[c][m]) })),
      max: 1,
    }),
  );
  if (shown.includes("latency_p50_s")) {
    chart.append(
      barChart({
        title: "median seconds per answer (lower is better)",
        groups: ["latency p50 s"],
        series: configs.map((c) => ({ label: c, values: [result.results[c].latency_p50_s] })),
      }),
    );
  }
  const n = (result.per_question || []).length;
  $("eval-status").className = "muted";
  $("eval-status").textContent =
    `Suite ${result.suite ?? "?"}: ${configs.length} configs, ${fmt.format(n)} scored answers` +
    (result.seconds ? `, ${result.seconds} s.` : ".");
}

$("eval-file").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  const status = $("eval-status");
  try {
    const result = JSON.parse(await file.text());
    if (!result || typeof result.results !== "object" || Array.isArray(result.results)) {
      throw new Error("it has no `results` object");
    }
    showEval(result);
  } catch (err) {
    $("eval-chart").replaceChildren();
    $("eval-table").replaceChildren();
    status.className = "error";
    status.textContent = `${file.name} is not an \`outweigh eval --json\` file: ${err.message}`;
  }
});

// -- start --------------------------------------------------------------------------------
async function start() {
  try {
    // Concurrent 401s share one key prompt (askKey), so these may run side by side.
    await Promise.all([loadMe(), loadModels(), loadCollections()]);
  } catch (e) {
    $("log").append(el("p", "error", e.message));
  }
  $("prompt").focus();
}
const pageReady = start();
