// Query rows as a uPlot time-series chart: one line per series (the rows' tag values) and
// numeric column, on a shared time axis.
import uPlot from "uplot";

const COLORS = ["#3b82f6", "#ef4444", "#10b981", "#f59e0b", "#8b5cf6", "#ec4899", "#14b8a6",
  "#f97316", "#6366f1", "#84cc16"];
export const MAX_SERIES = 50;

// "2026-12-05T14:28:24.623431978" (UTC, nanoseconds) → seconds since the epoch.
export function seconds(time) {
  if (typeof time === "number") return time / 1e9;
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?/.exec(String(time));
  if (!m) return NaN;
  return Date.parse(`${m[1]}Z`) / 1000 + (m[2] ? parseFloat(m[2]) : 0);
}

// Turns rows into uPlot's aligned data: [times, series…], and the series' labels. Null when
// the rows have no time column or no numeric column.
export function seriesOf(rows) {
  if (!rows.length || !("time" in rows[0])) return null;
  const columns = Object.keys(rows[0]);
  const numeric = columns.filter((c) => c !== "time" && rows.some((r) => typeof r[c] === "number"));
  const tags = columns.filter((c) => c !== "time" && !numeric.includes(c) &&
    rows.every((r) => r[c] === null || typeof r[c] === "string"));
  if (!numeric.length) return null;
  const times = [...new Set(rows.map((r) => seconds(r.time)).filter((t) => !Number.isNaN(t)))];
  times.sort((a, b) => a - b);
  const slot = new Map(times.map((t, i) => [t, i]));
  const lines = new Map();  // label → values aligned with times
  for (const row of rows) {
    const t = slot.get(seconds(row.time));
    if (t === undefined) continue;
    const key = tags.map((c) => `${c}=${row[c] ?? ""}`).join(",");
    for (const field of numeric) {
      const value = row[field];
      if (typeof value !== "number") continue;
      const label = key ? `${field} {${key}}` : field;
      let values = lines.get(label);
      if (!values) {
        if (lines.size >= MAX_SERIES) continue;
        values = new Array(times.length).fill(null);
        lines.set(label, values);
      }
      values[t] = value;
    }
  }
  return { data: [times, ...lines.values()], labels: [...lines.keys()] };
}

export function draw(element, rows) {
  const shaped = seriesOf(rows);
  if (!shaped) return null;
  const options = {
    width: Math.max(element.clientWidth, 400),
    height: 320,
    series: [{}, ...shaped.labels.map((label, i) => ({
      label,
      stroke: COLORS[i % COLORS.length],
      width: 1.5,
      spanGaps: true,
      points: { show: shaped.data[0].length < 200 },
    }))],
    cursor: { drag: { x: true, y: false } },  // drag to zoom, double-click to reset
    scales: { x: { time: true } },
  };
  return new uPlot(options, shaped.data, element);
}

// A small chart that a live panel feeds with setData([times, values]).
export function drawLive(element, label) {
  const options = {
    width: 360,
    height: 140,
    legend: { show: false },
    series: [{}, { label, stroke: COLORS[0], width: 1.5, fill: "rgba(59,130,246,0.1)" }],
    scales: { x: { time: true } },
    axes: [{ size: 30 }, { size: 50 }],
  };
  return new uPlot(options, [[], []], element);
}
