// Prometheus text (the server's /metrics) into numbers: each metric name → the sum over its
// label sets, and the per-panel figures between two samples.
export function parseMetrics(text) {
  const sums = { at: Date.now() / 1000 };
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    if (Number.isFinite(value)) sums[m[1]] = (sums[m[1]] || 0) + value;
  }
  return sums;
}

// Each panel's value now: counters as rates per second since `before`, means as Δsum/Δcount,
// gauges as they are. Null for the first sample (no rate yet).
export function rates(panels, before, now) {
  if (!before) return null;
  const dt = Math.max(now.at - before.at, 1e-3);
  const out = {};
  for (const p of panels) {
    const scale = p.scale || 1;
    if (p.rate) out[p.id] = Math.max(((now[p.rate] || 0) - (before[p.rate] || 0)) / dt, 0);
    else if (p.mean) {
      const count = (now[`${p.mean}_count`] || 0) - (before[`${p.mean}_count`] || 0);
      const sum = (now[`${p.mean}_sum`] || 0) - (before[`${p.mean}_sum`] || 0);
      out[p.id] = count > 0 ? (sum / count) * scale : 0;
    } else out[p.id] = (now[p.gauge] || 0) * scale;
  }
  return out;
}
