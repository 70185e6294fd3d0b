// The query page's time range: sent as the query parameters $start and $stop (RFC 3339, UTC),
// which a query uses where it wants them (`WHERE time >= $start AND time < $stop`).
export const RANGES = {
  "5m": { label: "last 5 minutes", seconds: 300 },
  "1h": { label: "last hour", seconds: 3600 },
  "6h": { label: "last 6 hours", seconds: 6 * 3600 },
  "24h": { label: "last 24 hours", seconds: 86400 },
  "7d": { label: "last 7 days", seconds: 7 * 86400 },
  "30d": { label: "last 30 days", seconds: 30 * 86400 },
  all: { label: "all time", seconds: null },
};

// The parameters for `key`, only those the query text names (an unused parameter is refused).
export function rangeParams(key, text) {
  const range = RANGES[key] || RANGES["1h"];
  const stop = new Date();
  const start = range.seconds === null ? new Date(0) : new Date(stop.getTime() - range.seconds * 1000);
  const params = {};
  if (/\$start\b/.test(text)) params.start = start.toISOString();
  if (/\$stop\b/.test(text)) params.stop = range.seconds === null ? "2262-04-11T00:00:00Z" : stop.toISOString();
  return params;
}
