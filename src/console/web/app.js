// The Riffle web console: query and chart, browse the data, watch and drive the Processing
// engine, watch the server. Preact components written with htm (no build-time JSX); esbuild
// bundles this file, its imports and the npm packages into the one script the binary serves at
// /ui/app.js.
import { h, render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";

import { AuthNeeded, call, databases, metrics, query, queryStream, setToken, token } from "./api.js";
import { draw, drawLive } from "./chart.js";
import { parseMetrics, rates } from "./metrics.js";
import { RANGES, rangeParams } from "./range.js";

const html = htm.bind(h);
const TABLE_ROWS = 1000;  // rows shown in a table; the chart and the CSV get them all
// Rows read from one query: the page stops reading there (the server then stops the query) and
// says so. sessionStorage "riffle.maxRows" lowers it (the end-to-end tests do).
const MAX_ROWS = Number(sessionStorage.getItem("riffle.maxRows")) || 200000;
const PAGES = ["query", "data", "engine", "server"];

function useHash() {
  const [hash, setHash] = useState(location.hash.slice(1) || "query");
  useEffect(() => {
    const changed = () => setHash(location.hash.slice(1) || "query");
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return hash;
}

function App() {
  const page = useHash();
  const [needLogin, setNeedLogin] = useState(false);
  const [dbs, setDbs] = useState([]);
  const [db, setDb] = useState(sessionStorage.getItem("riffle.db") || "");
  const [error, setError] = useState("");

  const guard = async (work) => {
    try {
      setError("");
      return await work();
    } catch (e) {
      if (e instanceof AuthNeeded) setNeedLogin(true);
      else setError(e.message);
      return undefined;
    }
  };
  const pick = (name) => {
    setDb(name);
    sessionStorage.setItem("riffle.db", name);
  };
  const refreshDbs = () => guard(async () => {
    const names = await databases();
    setDbs(names);
    if (!names.includes(db) && names.length) pick(names[0]);
  });
  useEffect(() => { refreshDbs(); }, [needLogin]);

  if (needLogin) return html`<${Login} done=${() => setNeedLogin(false)} />`;
  const Page = { query: QueryPage, data: DataPage, engine: EnginePage, server: ServerPage }[page] || QueryPage;
  return html`
    <header>
      <strong>Riffle</strong>
      <nav>
        ${PAGES.map((p) => html`
          <a href="#${p}" class=${p === page ? "active" : ""}>${p[0].toUpperCase() + p.slice(1)}</a>`)}
      </nav>
      <label>database
        <select id="db" value=${db} onChange=${(e) => pick(e.target.value)}>
          ${dbs.map((name) => html`<option value=${name}>${name}</option>`)}
        </select>
      </label>
      <button onClick=${refreshDbs}>↻</button>
      ${token() && html`<button onClick=${() => { setToken(""); setNeedLogin(true); }}>log out</button>`}
    </header>
    ${error && html`<p class="error">${error}</p>`}
    <main><${Page} db=${db} guard=${guard} refreshDbs=${refreshDbs} /></main>`;
}

function Login({ done }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState("");
  const submit = async (e) => {
    e.preventDefault();
    setToken(value.trim());
    try {
      await databases();
      done();
    } catch (err) {
      setToken("");
      setError(err instanceof AuthNeeded ? "that token was not accepted" : err.message);
    }
  };
  return html`
    <form class="login" onSubmit=${submit}>
      <h2>This server needs a token</h2>
      <p>It is kept for this browser tab only (session storage).</p>
      <input id="token" type="password" placeholder="apiv3_…" value=${value}
             onInput=${(e) => setValue(e.target.value)} autofocus />
      <button type="submit">Log in</button>
      ${error && html`<p class="error">${error}</p>`}
    </form>`;
}

function toCsv(rows) {
  if (!rows.length) return "";
  const columns = Object.keys(rows[0]);
  const cell = (v) => {
    if (v === null || v === undefined) return "";
    const s = String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [columns.join(","), ...rows.map((r) => columns.map((c) => cell(r[c])).join(","))].join("\n");
}

function Table({ rows, limit = TABLE_ROWS }) {
  if (!rows.length) return html`<p class="muted">No rows.</p>`;
  const columns = Object.keys(rows[0]);
  return html`
    <div class="table-wrap">
      <table class="rows">
        <thead><tr>${columns.map((c) => html`<th>${c}</th>`)}</tr></thead>
        <tbody>
          ${rows.slice(0, limit).map((r) => html`
            <tr>${columns.map((c) => html`<td>${r[c] === null ? "" : String(r[c])}</td>`)}</tr>`)}
        </tbody>
      </table>
    </div>
    ${rows.length > limit && html`<p class="muted">Showing ${limit} of ${rows.length} rows.</p>`}`;
}

function Chart({ rows }) {
  const box = useRef(null);
  const [drawn, setDrawn] = useState(null);
  useEffect(() => {
    box.current.innerHTML = "";
    const started = performance.now();
    const plot = draw(box.current, rows);
    setDrawn(plot ? performance.now() - started : null);
    return () => plot && plot.destroy();
  }, [rows]);
  return html`<div class="chart" ref=${box}></div>
    ${drawn !== null && html`<p class="muted" id="chart-time">chart drawn in ${drawn.toFixed(0)} ms</p>`}`;
}

const EXAMPLES = {
  sql: "SELECT * FROM cpu WHERE time >= $start AND time < $stop ORDER BY time",
  influxql: "SELECT mean(usage) FROM cpu WHERE time >= $start AND time < $stop GROUP BY time(1m), host",
};

function QueryPage({ db, guard }) {
  const [language, setLanguage] = useState("sql");
  const [text, setText] = useState(sessionStorage.getItem("riffle.query") || EXAMPLES.sql);
  const [range, setRange] = useState(sessionStorage.getItem("riffle.range") || "1h");
  const [result, setResult] = useState(null);
  const [running, setRunning] = useState(false);
  const [refresh, setRefresh] = useState(0);

  const run = async () => {
    if (!db) return;
    sessionStorage.setItem("riffle.query", text);
    sessionStorage.setItem("riffle.range", range);
    setRunning(true);
    const started = performance.now();
    const got = await guard(() => queryStream(db, text, language, rangeParams(range, text), MAX_ROWS));
    setRunning(false);
    if (got === undefined) return;
    setResult({ rows: got.rows, total: got.rows.length, cut: got.cut, ms: performance.now() - started });
  };
  useEffect(() => {
    if (!refresh) return undefined;
    const timer = setInterval(run, refresh * 1000);
    return () => clearInterval(timer);
  }, [refresh, text, language, db, range]);
  const keys = (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      run();
    }
  };
  const download = () => {
    const blob = new Blob([toCsv(result.rows)], { type: "text/csv" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "query.csv";
    a.click();
  };
  return html`
    <section>
      <div class="toolbar">
        <select id="language" value=${language} onChange=${(e) => setLanguage(e.target.value)}>
          <option value="sql">SQL</option>
          <option value="influxql">InfluxQL</option>
        </select>
        <button id="run" onClick=${run} disabled=${running || !db}>${running ? "Running…" : "Run (Ctrl+Enter)"}</button>
        <label title="sent as the query parameters $start and $stop">time range
          <select id="range" value=${range} onChange=${(e) => setRange(e.target.value)}>
            ${Object.entries(RANGES).map(([key, r]) => html`<option value=${key}>${r.label}</option>`)}
          </select>
        </label>
        <label>auto-refresh
          <select value=${refresh} onChange=${(e) => setRefresh(Number(e.target.value))}>
            ${[0, 5, 10, 30, 60].map((s) => html`<option value=${s}>${s ? `${s} s` : "off"}</option>`)}
          </select>
        </label>
        <button onClick=${() => setText(EXAMPLES[language])}>example</button>
      </div>
      <textarea id="query" rows="5" spellcheck="false" value=${text}
                onInput=${(e) => setText(e.target.value)} onKeyDown=${keys}></textarea>
      ${result && html`
        <p class="muted" id="summary">${result.total} rows in ${result.ms.toFixed(0)} ms
          ${result.cut && html` — stopped reading at ${MAX_ROWS} rows (and the server stopped the query); narrow the time range`}
          <button onClick=${download}>CSV</button></p>
        <${Chart} rows=${result.rows} />
        <${Table} rows=${result.rows} />`}
    </section>`;
}

// A retention period in nanoseconds, as people say it.
function days(ns) {
  const hours = ns / 3.6e12;
  return hours >= 24 && hours % 24 === 0 ? `${hours / 24} days` : `${hours} hours`;
}

function DataPage({ db, guard, refreshDbs }) {
  const [tables, setTables] = useState([]);
  const [columns, setColumns] = useState({});
  const [files, setFiles] = useState({});
  const [counts, setCounts] = useState({});
  const [newDb, setNewDb] = useState("");
  const [loaded, setLoaded] = useState("");  // the database the page shows
  const [retention, setRetention] = useState({});
  const [newTable, setNewTable] = useState({ name: "", tags: "", fields: "" });
  const load = () => guard(async () => {
    if (!db) return;
    setLoaded("");
    const shown = await query(db, "SHOW TABLES");
    setTables(shown.filter((t) => t.table_schema === "iox").map((t) => t.table_name));
    const cols = await query(db, "SELECT table_name, column_name, data_type FROM information_schema.columns " +
                                 "WHERE table_schema = 'iox' ORDER BY table_name");
    const byTable = {};
    for (const c of cols) (byTable[c.table_name] ||= []).push(c);
    setColumns(byTable);
    const parquet = await query(db, "SELECT table_name, count(*) AS files, sum(size_bytes) AS bytes " +
                                    "FROM system.parquet_files GROUP BY table_name");
    setFiles(Object.fromEntries(parquet.map((p) => [p.table_name, p])));
    try {  // retention is in the _internal database, which only an admin token reads
      const kept = await query("_internal", "SELECT table_name, effective_retention_period_ns AS ns FROM system.tables " +
                                            "WHERE database_name = $db", "sql", { db });
      setRetention(Object.fromEntries(kept.map((r) => [r.table_name, r.ns])));
    } catch {
      setRetention({});
    }
    setCounts({});
    setLoaded(db);
  });
  useEffect(() => { load(); }, [db]);
  const quote = (name) => `"${name.replace(/"/g, '""')}"`;
  const count = (t) => guard(async () => {
    const rows = await query(db, `SELECT count(*) AS n FROM ${quote(t)}`);
    const tags = (columns[t] || []).filter((c) => kind(c.data_type) === "tag").map((c) => quote(c.column_name));
    const series = tags.length
      ? (await query(db, `SELECT count(*) AS n FROM (SELECT DISTINCT ${tags.join(", ")} FROM ${quote(t)})`))[0].n
      : (rows[0].n > 0 ? 1 : 0);
    setCounts({ ...counts, [t]: `${rows[0].n} rows, ${series} series` });
  });
  const kind = (type) => (type.startsWith("Dictionary") ? "tag" : type.startsWith("Timestamp") ? "time" : "field");
  const createDb = (e) => guard(async () => {
    e.preventDefault();
    await call("POST", "/api/v3/configure/database", { db: newDb });
    setNewDb("");
    await refreshDbs();
  });
  const deleteDb = () => guard(async () => {
    if (!confirm(`Delete database "${db}" and all its data?`)) return;
    await call("DELETE", `/api/v3/configure/database?db=${encodeURIComponent(db)}`);
    await refreshDbs();
  });
  // "host,region" and "usage:float64,count:int64" → POST /api/v3/configure/table.
  const createTable = (e) => guard(async () => {
    e.preventDefault();
    const tags = newTable.tags.split(",").map((t) => t.trim()).filter(Boolean);
    const fields = newTable.fields.split(",").map((f) => f.trim()).filter(Boolean).map((f) => {
      const [name, type = "float64"] = f.split(":").map((x) => x.trim());
      return { name, type };
    });
    await call("POST", "/api/v3/configure/table", { db, table: newTable.name, tags, fields });
    setNewTable({ name: "", tags: "", fields: "" });
    await load();
  });
  const deleteTable = (t) => guard(async () => {
    if (!confirm(`Delete table "${t}" and all its data?`)) return;
    await call("DELETE", `/api/v3/configure/table?db=${encodeURIComponent(db)}&table=${encodeURIComponent(t)}`);
    await load();
  });
  return html`
    <section id="data" data-loaded=${loaded}>
      <form class="toolbar" onSubmit=${createDb}>
        <input id="new-db" placeholder="new database name" value=${newDb} onInput=${(e) => setNewDb(e.target.value)} />
        <button type="submit" disabled=${!newDb}>Create database</button>
        ${db && html`<button type="button" class="danger" onClick=${deleteDb}>Delete ${db}</button>`}
      </form>
      ${db && html`
        <form class="toolbar" onSubmit=${createTable}>
          <input id="new-table" placeholder="new table name" value=${newTable.name}
                 onInput=${(e) => setNewTable({ ...newTable, name: e.target.value })} />
          <input id="new-table-tags" placeholder="tags: host,region" value=${newTable.tags}
                 onInput=${(e) => setNewTable({ ...newTable, tags: e.target.value })} />
          <input id="new-table-fields" class="wide" placeholder="fields: usage:float64,count:int64,ok:bool,note:utf8"
                 value=${newTable.fields} onInput=${(e) => setNewTable({ ...newTable, fields: e.target.value })} />
          <button id="create-table" type="submit" disabled=${!newTable.name}>Create table</button>
        </form>`}
      ${tables.length === 0 && html`<p class="muted">No tables in ${db || "this server"} yet: write some line protocol.</p>`}
      ${tables.map((t) => html`
        <details class="table-card" open>
          <summary><strong>${t}</strong>
            <span class="muted"> ${(columns[t] || []).length} columns
              ${files[t] ? ` · ${files[t].files} Parquet files, ${files[t].bytes} bytes` : " · not persisted yet"}
              ${t in retention ? ` · ${retention[t] ? `kept ${days(retention[t])}` : "kept forever"}` : ""}
              ${counts[t] !== undefined ? ` · ${counts[t]}` : ""}</span>
            <button onClick=${() => count(t)}>count rows</button>
            <button class="danger" onClick=${() => deleteTable(t)}>delete</button>
          </summary>
          <table class="rows"><thead><tr><th>column</th><th>kind</th><th>type</th></tr></thead>
            <tbody>${(columns[t] || []).map((c) => html`
              <tr><td>${c.column_name}</td><td>${kind(c.data_type)}</td><td>${c.data_type}</td></tr>`)}</tbody>
          </table>
        </details>`)}
    </section>`;
}

function EnginePage({ db, guard }) {
  const [triggers, setTriggers] = useState([]);
  const [runs, setRuns] = useState([]);
  const [logs, setLogs] = useState([]);
  const [form, setForm] = useState({ name: "", plugin: "", spec: "" });
  const [editing, setEditing] = useState("");  // the trigger whose code is open
  const load = () => guard(async () => {
    if (!db) return;
    setTriggers(await query(db, "SELECT * FROM system.processing_engine_triggers ORDER BY trigger_name"));
    setRuns(await query(db, "SELECT trigger_name, kind, start_time, duration_ns, outcome, rows_in, lines_written, error " +
                             "FROM system.processing_engine_runs ORDER BY start_time DESC LIMIT 50"));
    setLogs(await query(db, "SELECT event_time, trigger_name, log_level, log_text FROM system.processing_engine_logs " +
                             "ORDER BY event_time DESC LIMIT 100"));
  });
  useEffect(() => {
    load();
    const timer = setInterval(load, 2000);  // live
    return () => clearInterval(timer);
  }, [db]);
  const act = (path, body, method = "POST") => guard(async () => {
    await call(method, path, body);
    await load();
  });
  const create = (e) => {
    e.preventDefault();
    act("/api/v3/configure/processing_engine_trigger", {
      db, trigger_name: form.name, plugin_filename: form.plugin, trigger_specification: form.spec,
      trigger_settings: { run_async: false, error_behavior: "log" }, disabled: false,
    });
  };
  const last = (name) => runs.find((r) => r.trigger_name === name);
  return html`
    <section>
      <h3>Triggers</h3>
      <${Table} rows=${triggers.map((t) => ({
        trigger: t.trigger_name, plugin: t.plugin_filename, spec: t.trigger_specification,
        state: t.disabled ? "disabled" : "enabled", "last run": last(t.trigger_name)?.outcome || "" }))} />
      ${triggers.map((t) => html`
        <div class="toolbar">
          <span>${t.trigger_name}</span>
          <button onClick=${() => act(`/api/v3/configure/processing_engine_trigger/${t.disabled ? "enable" : "disable"}`,
                                      { db, trigger_name: t.trigger_name })}>${t.disabled ? "enable" : "disable"}</button>
          <button onClick=${() => setEditing(t.trigger_name)}>code</button>
          <button class="danger" onClick=${() => confirm(`Delete trigger "${t.trigger_name}"?`) &&
            act("/api/v3/configure/processing_engine_trigger", { db, trigger_name: t.trigger_name, force: true }, "DELETE")}>delete</button>
        </div>`)}
      <form class="toolbar" onSubmit=${create}>
        <input id="trigger-name" placeholder="trigger name" value=${form.name} onInput=${(e) => setForm({ ...form, name: e.target.value })} />
        <input id="trigger-plugin" placeholder="plugin file (in --plugin-dir)" value=${form.plugin} onInput=${(e) => setForm({ ...form, plugin: e.target.value })} />
        <input id="trigger-spec" placeholder="table:cpu, every:10s, request:hook" value=${form.spec} onInput=${(e) => setForm({ ...form, spec: e.target.value })} />
        <button id="create-trigger" type="submit" disabled=${!form.name || !form.plugin || !form.spec}>Create trigger</button>
      </form>
      ${editing && html`<${PluginEditor} trigger=${editing} guard=${guard} close=${() => setEditing("")} />`}
      <${DryRun} db=${db} guard=${guard} />
      <h3>Runs</h3>
      <div id="runs"><${Table} rows=${runs} limit=${50} /></div>
      <h3>Logs</h3>
      <div id="logs"><${Table} rows=${logs} limit=${100} /></div>
    </section>`;
}

// A trigger's plugin code, read and saved through the plugin-file API; the next run uses it.
function PluginEditor({ trigger, guard, close }) {
  const [code, setCode] = useState(null);
  const [saved, setSaved] = useState("");
  useEffect(() => {
    setCode(null);
    setSaved("");
    guard(async () => {
      const got = await call("GET", `/api/v3/plugins/files?plugin_name=${encodeURIComponent(trigger)}`);
      setCode(got.content);
    });
  }, [trigger]);
  const save = () => guard(async () => {
    await call("PUT", "/api/v3/plugins/files", { plugin_name: trigger, content: code });
    setSaved(`saved at ${new Date().toLocaleTimeString()}`);
  });
  return html`
    <div class="editor">
      <h3>Code of ${trigger}</h3>
      ${code === null ? html`<p class="muted">Loading…</p>` : html`
        <textarea id="plugin-code" rows="16" spellcheck="false" value=${code}
                  onInput=${(e) => setCode(e.target.value)}></textarea>
        <div class="toolbar">
          <button id="save-code" onClick=${save}>Save</button>
          <button onClick=${close}>Close</button>
          <span class="muted" id="saved">${saved}</span>
        </div>`}
    </div>`;
}

// A plugin run without its effects (the `influxdb3 test` endpoints): its log lines, the lines it
// would write, its errors, and for request plugins the response.
function DryRun({ db, guard }) {
  const [kind, setKind] = useState("wal");
  const [file, setFile] = useState("");
  const [input, setInput] = useState("cpu,host=a usage=0.5");
  const [result, setResult] = useState(null);
  const run = (e) => guard(async () => {
    e.preventDefault();
    const body = { filename: file, database: db };
    if (kind === "wal") body.input_lp = input;
    if (kind === "schedule") body.schedule = input || "* * * * * *";
    if (kind === "request") body.body = input;
    setResult(await call("POST", `/api/v3/plugin_test/${kind}`, body));
  });
  return html`
    <h3>Dry run</h3>
    <form class="toolbar" onSubmit=${run}>
      <select id="dry-kind" value=${kind} onChange=${(e) => setKind(e.target.value)}>
        <option value="wal">WAL plugin (line protocol in)</option>
        <option value="schedule">schedule plugin (cron)</option>
        <option value="request">request plugin (body)</option>
      </select>
      <input id="dry-file" placeholder="plugin file" value=${file} onInput=${(e) => setFile(e.target.value)} />
      <input id="dry-input" class="wide" value=${input} onInput=${(e) => setInput(e.target.value)} />
      <button id="dry-run" type="submit" disabled=${!file || !db}>Test</button>
    </form>
    ${result && html`<pre id="dry-result">${JSON.stringify(result, null, 2)}</pre>`}`;
}

// The server's /metrics as small live charts: rates of the counters, values of the gauges.
const PANELS = [
  { id: "lines", title: "lines written / s", rate: "riffle_lines_written_total" },
  { id: "queries", title: "queries / s", rate: "riffle_queries_total" },
  { id: "latency", title: "mean query time (ms)", mean: "riffle_query_duration_seconds", scale: 1000 },
  { id: "flushes", title: "WAL flushes / s", rate: "riffle_wal_flushes_total" },
  { id: "buffer", title: "write buffer (MB)", gauge: "riffle_buffer_bytes", scale: 1 / 1048576 },
  { id: "rss", title: "resident memory (MB)", gauge: "process_resident_memory_bytes", scale: 1 / 1048576 },
  { id: "runs", title: "plugin runs / s", rate: "riffle_plugin_runs_total" },
];
const WINDOW = 150;  // samples kept: 5 minutes at one every 2 s

function ServerPage({ db, guard }) {
  const [series, setSeries] = useState({ times: [], values: {} });
  const [running, setRunning] = useState([]);
  const last = useRef(null);
  useEffect(() => {
    const sample = () => guard(async () => {
      const current = parseMetrics(await metrics());
      const values = rates(PANELS, last.current, current);
      last.current = current;
      if (values) {
        setSeries((old) => {
          const times = [...old.times, current.at].slice(-WINDOW);
          const next = {};
          for (const p of PANELS) next[p.id] = [...(old.values[p.id] || []), values[p.id]].slice(-WINDOW);
          return { times, values: next };
        });
      }
      if (db) setRunning(await query(db, "SELECT id, phase, issue_time, query_type, query_text, end2end_duration " +
                                         "FROM system.queries WHERE running ORDER BY issue_time"));
    });
    sample();
    const timer = setInterval(sample, 2000);
    return () => clearInterval(timer);
  }, [db]);
  return html`
    <section>
      <div class="panels">
        ${PANELS.map((p) => html`<${Panel} key=${p.id} panel=${p} times=${series.times} values=${series.values[p.id] || []} />`)}
      </div>
      <h3>Running queries</h3>
      <div id="running"><${Table} rows=${running} /></div>
    </section>`;
}

function Panel({ panel, times, values }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    if (!plot.current) plot.current = drawLive(box.current, panel.title);
    plot.current.setData([times, values]);
  }, [times, values]);
  useEffect(() => () => plot.current && plot.current.destroy(), []);
  const latest = values.length ? values[values.length - 1] : null;
  return html`<div class="panel" id=${`panel-${panel.id}`}>
    <div class="panel-title">${panel.title}: <strong>${latest === null ? "…" : latest.toFixed(latest < 10 ? 2 : 0)}</strong></div>
    <div ref=${box}></div>
  </div>`;
}

const root = document.getElementById("app");
root.textContent = "";  // the page's "Loading…" line
render(html`<${App} />`, root);
