// Inline SVG charts for the Plan and Eval tabs, built node by node (labels via textContent).

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function frame(width, height, title) {
  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": title,
    class: "chart",
  });
  root.append(svg("title", {}, title));
  root.append(svg("text", { x: 8, y: 18, class: "chart-title" }, title));
  return root;
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8, 10]) if (value <= m * step) return m * step;
  return 10 * step;
}

function yAxis(root, { left, top, height, max, unit, width }) {
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    const y = top + height - (height * i) / 4;
    root.append(svg("line", { x1: left, x2: width - 8, y1: y, y2: y, class: "grid" }));
    const label = Number.isInteger(v) ? String(v) : v.toFixed(v < 1 ? 2 : 1);
    root.append(svg("text", { x: left - 6, y: y + 4, class: "tick", "text-anchor": "end" }, label));
  }
  if (unit) root.append(svg("text", { x: 8, y: top - 8, class: "tick" }, unit));
}

/**
 * One stacked bar of memory (what `outweigh plan --plot` draws) and one dashed line per GPU.
 * segments: [{label, colour, bytes}] bottom to top; lines: [{label, bytes}].
 */
export function stackedBar({ title, label, segments, lines }) {
  const width = 640;
  const height = 360;
  const [left, top, plotH] = [56, 48, 260];
  const total = segments.reduce((s, x) => s + x.bytes, 0);
  const max = niceMax(Math.max(total, ...lines.map((l) => l.bytes)) / 1e9);
  const root = frame(width, height, title);
  root.classList.add("plan-chart");
  yAxis(root, { left, top, height: plotH, max, unit: "GB (10^9 bytes)", width: 460 });
  const y = (gbs) => top + plotH - (plotH * gbs) / max;
  const [barX, barW] = [110, 120];
  let base = 0;
  for (const s of segments) {
    const h = s.bytes / 1e9;
    if (h > 0) {
      const rect = svg("rect", {
        x: barX,
        y: y(base + h),
        width: barW,
        height: Math.max(0.5, y(base) - y(base + h)),
        fill: s.colour,
        class: "segment",
      });
      rect.append(svg("title", {}, `${s.label}: ${(s.bytes / 1e9).toFixed(2)} GB`));
      root.append(rect);
    }
    base += h;
  }
  root.append(
    svg("text", { x: barX + barW / 2, y: top + plotH + 18, "text-anchor": "middle", class: "tick" }, label),
  );
  lines.forEach((l, i) => {
    const ly = y(l.bytes / 1e9);
    root.append(
      svg("line", {
        x1: left,
        x2: 452,
        y1: ly,
        y2: ly,
        class: "gpu-line",
        "stroke-dasharray": `4 ${2 + i}`,
      }),
    );
    root.append(svg("text", { x: 452, y: ly - 3, "text-anchor": "end", class: "tick" }, l.label));
  });
  segments.forEach((s, i) => {
    const ly = top + 6 + i * 20;
    root.append(svg("rect", { x: 476, y: ly - 10, width: 12, height: 12, fill: s.colour }));
    const gbs = (s.bytes / 1e9).toFixed(2);
    root.append(svg("text", { x: 494, y: ly, class: "tick" }, `${s.label} ${gbs} GB`));
  });
  const ty = top + 6 + segments.length * 20 + 8;
  root.append(
    svg("text", { x: 476, y: ty, class: "tick strong" }, `total ${(total / 1e9).toFixed(2)} GB`),
  );
  return root;
}

const PALETTE = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3"];

/**
 * Grouped bars: one group per name in `groups`, one bar per series; null values show "n/a"
 * (never a bar of zero, which would read as a score).
 */
export function barChart({ title, groups, series, max }) {
  const groupW = Math.max(90, 26 * series.length + 30);
  const width = Math.max(360, 60 + groups.length * groupW + 200);
  const height = 300;
  const [left, top, plotH] = [48, 40, 200];
  const values = series.flatMap((s) => s.values).filter((v) => typeof v === "number");
  const top_ = max ?? niceMax(Math.max(0, ...values));
  const root = frame(width, height, title);
  yAxis(root, { left, top, height: plotH, max: top_, width: width - 200 });
  const barW = Math.min(24, (groupW - 20) / series.length);
  groups.forEach((g, gi) => {
    const x0 = left + 10 + gi * groupW;
    series.forEach((s, si) => {
      const v = s.values[gi];
      const x = x0 + si * barW;
      if (typeof v === "number") {
        const h = (plotH * Math.min(v, top_)) / top_;
        const rect = svg("rect", {
          x,
          y: top + plotH - h,
          width: barW - 2,
          height: Math.max(0.5, h),
          fill: PALETTE[si % PALETTE.length],
        });
        rect.append(svg("title", {}, `${s.label}, ${g}: ${v}`));
        root.append(rect);
      }
      const label = typeof v === "number" ? (v < 10 ? v.toFixed(2) : v.toFixed(0)) : "n/a";
      const ly = typeof v === "number" ? top + plotH - (plotH * Math.min(v, top_)) / top_ - 3 : top + plotH - 3;
      root.append(
        svg("text", { x: x + (barW - 2) / 2, y: ly, "text-anchor": "middle", class: "tiny" }, label),
      );
    });
    root.append(
      svg("text", { x: x0 + (series.length * barW) / 2, y: top + plotH + 16, "text-anchor": "middle", class: "tick" }, g),
    );
  });
  series.forEach((s, i) => {
    const ly = top + 6 + i * 20;
    const lx = width - 190;
    root.append(svg("rect", { x: lx, y: ly - 10, width: 12, height: 12, fill: PALETTE[i % PALETTE.length] }));
    root.append(svg("text", { x: lx + 18, y: ly, class: "tick" }, s.label));
  });
  return root;
}
