// A small Markdown renderer for untrusted text (model answers, retrieved passages).
//
// It builds DOM nodes with createElement and textContent only: no string of the input ever
// reaches innerHTML, so markup in the text (<img onerror=...>, <script>) shows as text.
// Links keep only absolute http: and https: URLs; anything else (javascript:, data:, relative)
// is shown as plain text. The page's Content-Security-Policy is the second wall.
//
// Supported: paragraphs and line breaks, # headings, - and 1. lists, > quotes, ``` fences,
// `code`, **bold**, *italic*, [text](url), bare http(s) URLs, and [n] citation markers.

const INLINE = new RegExp(
  [
    "`([^`\\n]+)`", // 1 code
    "\\[([^\\]\\n]+)\\]\\(([^()\\s]+)\\)", // 2 text, 3 url
    "\\[(\\d{1,3})\\]", // 4 citation number
    "\\*\\*([^*\\n]+)\\*\\*", // 5 bold
    "\\*([^*\\s][^*\\n]*)\\*", // 6 italic
    "(https?://[^\\s<>()\\[\\]]+[^\\s<>()\\[\\].,;:!?'\"])", // 7 bare URL
  ].join("|"),
  "g",
);

/** The URL if it is absolute http(s), else null. */
export function safeUrl(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function link(text, href) {
  const a = el("a", null, text);
  a.href = href;
  a.target = "_blank";
  a.rel = "noopener noreferrer nofollow";
  return a;
}

/**
 * Append `text`'s inline Markdown to `parent`.
 * `cite(n)` returns a node for citation marker [n], or null to leave it as text.
 */
function inline(parent, text, cite) {
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) parent.append(text.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[1] !== undefined) {
      parent.append(el("code", null, m[1]));
    } else if (m[2] !== undefined) {
      const href = safeUrl(m[3]);
      parent.append(href ? link(m[2], href) : m[0]);
    } else if (m[4] !== undefined) {
      parent.append((cite && cite(Number(m[4]))) || m[0]);
    } else if (m[5] !== undefined) {
      const b = el("strong");
      inline(b, m[5], cite);
      parent.append(b);
    } else if (m[6] !== undefined) {
      const i = el("em");
      inline(i, m[6], cite);
      parent.append(i);
    } else if (m[7] !== undefined) {
      const href = safeUrl(m[7]);
      parent.append(href ? link(m[7], href) : m[7]);
    }
  }
  if (last < text.length) parent.append(text.slice(last));
}

function lines(parent, rows, cite) {
  rows.forEach((row, i) => {
    if (i) parent.append(el("br"));
    inline(parent, row, cite);
  });
}

const LIST_ITEM = /^\s{0,3}([-*+]|\d{1,9}[.)])\s+(.*)$/;
const HEADING = /^(#{1,6})\s+(.*)$/;
const FENCE = /^\s{0,3}```/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;

/** A DocumentFragment of `text` rendered as Markdown; see the module comment. */
export function render(text, cite = null) {
  const out = document.createDocumentFragment();
  const rows = String(text).replace(/\r\n?/g, "\n").split("\n");
  let para = [];
  const flush = () => {
    if (para.length) {
      const p = el("p");
      lines(p, para, cite);
      out.append(p);
      para = [];
    }
  };
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (FENCE.test(row)) {
      flush();
      const code = [];
      for (i++; i < rows.length && !FENCE.test(rows[i]); i++) code.push(rows[i]);
      const pre = el("pre");
      pre.append(el("code", null, code.join("\n")));
      out.append(pre);
      continue;
    }
    const heading = HEADING.exec(row);
    if (heading) {
      flush();
      const h = el(`h${Math.min(heading[1].length + 2, 6)}`);
      inline(h, heading[2], cite);
      out.append(h);
      continue;
    }
    if (LIST_ITEM.test(row)) {
      flush();
      const ordered = /\d/.test(LIST_ITEM.exec(row)[1]);
      const list = el(ordered ? "ol" : "ul");
      for (; i < rows.length && LIST_ITEM.test(rows[i]); i++) {
        const li = el("li");
        inline(li, LIST_ITEM.exec(rows[i])[2], cite);
        list.append(li);
      }
      i--;
      out.append(list);
      continue;
    }
    if (QUOTE.test(row)) {
      flush();
      const quote = el("blockquote");
      const quoted = [];
      for (; i < rows.length && QUOTE.test(rows[i]); i++) quoted.push(QUOTE.exec(rows[i])[1]);
      i--;
      lines(quote, quoted, cite);
      out.append(quote);
      continue;
    }
    if (!row.trim()) {
      flush();
      continue;
    }
    para.push(row);
  }
  flush();
  return out;
}
