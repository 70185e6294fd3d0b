// The server's HTTP API as the console uses it. The token (when authentication is on) is kept
// in session storage only, and sent as `Authorization: Bearer`.
const TOKEN_KEY = "riffle.token";

export class AuthNeeded extends Error {}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export async function call(method, path, body) {
  const headers = {};
  if (token()) headers.Authorization = `Bearer ${token()}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status === 401) throw new AuthNeeded(errorOf(text) || "a token is needed");
  if (!response.ok) throw new Error(errorOf(text) || `${method} ${path}: HTTP ${response.status}`);
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function errorOf(text) {
  try {
    const parsed = JSON.parse(text);
    return parsed.error || parsed.message || text;
  } catch {
    return text;
  }
}

export async function databases() {
  const rows = await call("GET", "/api/v3/configure/database?format=json");
  return (rows || []).map((r) => r["iox::database"]).filter((name) => name !== "_internal");
}

// Rows of a query as objects; `language` is "sql" or "influxql"; `params` bind $name.
export async function query(db, q, language = "sql", params = undefined) {
  const path = language === "influxql" ? "/api/v3/query_influxql" : "/api/v3/query_sql";
  const body = { db, q, format: "json" };
  if (params && Object.keys(params).length) body.params = params;
  const rows = await call("POST", path, body);
  return Array.isArray(rows) ? rows : [];
}

// Rows of a query read as the server streams them (JSON Lines), so that a big result neither
// waits to be whole nor freezes the tab: past `limit` rows the page stops reading, which makes
// the server stop the query. Returns { rows, cut }.
export async function queryStream(db, q, language, params, limit) {
  const path = language === "influxql" ? "/api/v3/query_influxql" : "/api/v3/query_sql";
  const body = { db, q, format: "jsonl" };
  if (params && Object.keys(params).length) body.params = params;
  const headers = { "Content-Type": "application/json" };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const stop = new AbortController();
  const response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body), signal: stop.signal });
  if (response.status === 401) throw new AuthNeeded("a token is needed");
  if (!response.ok) {
    const text = await response.text();
    throw new Error(errorOf(text) || `${path}: HTTP ${response.status}`);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const rows = [];
  let pending = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    pending += decoder.decode(value, { stream: true });
    let start = 0;
    for (let end; (end = pending.indexOf("\n", start)) >= 0; start = end + 1) {
      if (end > start) rows.push(JSON.parse(pending.slice(start, end)));
      if (rows.length >= limit) {
        stop.abort();
        return { rows, cut: true };
      }
    }
    pending = pending.slice(start);
  }
  if (pending.trim()) rows.push(JSON.parse(pending));
  return { rows, cut: false };
}

export async function metrics() {
  const headers = token() ? { Authorization: `Bearer ${token()}` } : {};
  const response = await fetch("/metrics", { headers });
  if (response.status === 401) throw new AuthNeeded("a token is needed");
  return response.ok ? response.text() : "";
}
