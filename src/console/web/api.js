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

export async function metrics() {
  const headers = token() ? { Authorization: `Bearer ${token()}` } : {};
  const response = await fetch("/metrics", { headers });
  if (response.status === 401) throw new AuthNeeded("a token is needed");
  return response.ok ? response.text() : "";
}
