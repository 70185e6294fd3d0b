#!/usr/bin/env node
// A Flight SQL session against Riffle with a generic gRPC client: @grpc/grpc-js and
// @grpc/proto-loader load Riffle's own src/flight/proto/*.proto (so they are checked too), protobufjs
// (proto-loader's own dependency) encodes the Flight SQL commands, packed in google.protobuf.Any, and
// apache-arrow decodes the FlightData streams and the IPC schemas. Prints one JSON object with every
// step's outcome:
//
//   NODE_PATH=build/node/node_modules node tests/e2e/flight/flightsql.cjs '<job JSON>'   (or on stdin)
//
// job: {host: "http://127.0.0.1:8181" | "127.0.0.1:8181", token?, database?, timeout? (ms per call),
//       query?: "SELECT ..."                      (the statement step; default "SELECT 1 AS one"),
//       prepared?: {query, params: {name: value}}  (the prepared-statement step),
//       steps?: [step, ...]}                       (default: the whole walk below)
// A step is a name or {op: name, ...overrides}; overrides: database (null: no header), token
// (null: none), query, params, include_schema, table_name_filter_pattern, db_schema_filter_pattern,
// table_types, info, ticket (a raw DoGet ticket, for op "doget"), metadata (extra headers).
// Ops: handshake, sql_info, catalogs, db_schemas, tables, tables_with_schema, table_types,
//      statement, prepared, doget, primary_keys, list_actions.
// Each step's result: {op, ok: true, ...} or {op, ok: false, error: {code, name, details}, partial...}.
'use strict';
const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');
const arrow = require('apache-arrow');
const ipc = require('./ipc.cjs');

const REPO = path.resolve(__dirname, '..', '..', '..');
const PROTO_DIR = process.env.RIFFLE_PROTO_DIR || path.join(REPO, 'src', 'flight', 'proto');
const SQL = 'arrow.flight.protocol.sql.';

const job = JSON.parse(process.argv[2] !== undefined ? process.argv[2] : fs.readFileSync(0, 'utf8'));

// gRPC service from our proto files. google.protobuf.Any (which they do not import: commands are
// packed by hand) comes from protobufjs' bundled well-known types below.
const packageDefinition = protoLoader.loadSync(['flight.proto', 'flight_sql.proto'], {
  includeDirs: [PROTO_DIR], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
});
const loaded = grpc.loadPackageDefinition(packageDefinition);
const FlightService = loaded.arrow.flight.protocol.FlightService;

// Message codecs for the commands and action bodies.
const root = new protobuf.Root();
root.loadSync([path.join(PROTO_DIR, 'flight.proto'), path.join(PROTO_DIR, 'flight_sql.proto')], { keepCase: true });
root.addJSON(protobuf.common['google/protobuf/any.proto'].nested);
const Any = root.lookupType('google.protobuf.Any');
const T = (name) => root.lookupType(name.includes('.') ? name : SQL + name);

function encode(name, obj) {
  const type = T(name);
  const err = type.verify(obj);
  if (err) throw new Error(`${name}: ${err}`);
  return Buffer.from(type.encode(type.create(obj)).finish());
}

function decode(name, bytes) {
  const type = T(name);
  return type.toObject(type.decode(bytes), { longs: String, bytes: Buffer, defaults: true, oneofs: true });
}

function packAny(name, obj) {
  const full = name.includes('.') ? name : SQL + name;
  return Buffer.from(Any.encode(Any.create({ type_url: 'type.googleapis.com/' + full, value: encode(full, obj) })).finish());
}

function unpackAny(bytes) {
  const any = Any.decode(bytes);
  const full = any.type_url.replace(/^.*\//, '');
  return { type_url: any.type_url, message: full, value: decode(full, any.value) };
}

function cmdDescriptor(name, obj) {
  return { type: 'CMD', cmd: packAny(name, obj), path: [] };
}

function target(host) {
  return String(host).replace(/^https?:\/\//, '').replace(/\/+$/, '');
}

const client = new FlightService(target(job.host), grpc.credentials.createInsecure(), {
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
});

function metadataFor(step) {
  const md = new grpc.Metadata();
  const db = 'database' in step ? step.database : job.database;
  const token = 'token' in step ? step.token : job.token;
  if (db !== null && db !== undefined) md.set('database', db);
  if (token) md.set('authorization', `Bearer ${token}`);
  for (const [k, v] of Object.entries(step.metadata || {})) md.set(k, v);
  return md;
}

function callOptions(step) {
  const ms = step.timeout || job.timeout || 30000;
  return { deadline: new Date(Date.now() + ms) };
}

function grpcError(e) {
  return { code: e.code, name: grpc.status[e.code] || null, details: e.details || e.message };
}

function unary(method, req, step) {
  return new Promise((resolve, reject) => {
    client[method](req, metadataFor(step), callOptions(step), (err, res) => (err ? reject(err) : resolve(res)));
  });
}

function serverStream(method, req, step) {
  return new Promise((resolve, reject) => {
    const out = [];
    const call = client[method](req, metadataFor(step), callOptions(step));
    call.on('data', (m) => out.push(m));
    call.on('error', (e) => { e.partial = out; reject(e); });
    call.on('end', () => resolve(out));
  });
}

// Sends `messages` on a bidirectional stream, half-closes and collects every response (and the
// response headers).
function bidi(method, messages, step) {
  return new Promise((resolve, reject) => {
    const out = [];
    let headers = null;
    const call = client[method](metadataFor(step), callOptions(step));
    call.on('metadata', (md) => { headers = md.getMap(); });
    call.on('data', (m) => out.push(m));
    call.on('error', (e) => { e.partial = out; reject(e); });
    call.on('end', () => resolve({ responses: out, headers }));
    for (const m of messages) call.write(m);
    call.end();
  });
}

function describeStream(messages) {
  return messages.map((m) => ({
    ...ipc.describeHeader(m.data_header),
    header_bytes: m.data_header ? m.data_header.length : 0,
    body_bytes: m.data_body ? m.data_body.length : 0,
    app_metadata_bytes: m.app_metadata ? m.app_metadata.length : 0,
    has_descriptor: !!m.flight_descriptor,
  }));
}

async function doGet(ticket, step) {
  const messages = await serverStream('DoGet', { ticket }, step);
  const table = ipc.tableFromFlightData(messages);
  return { schema: ipc.describeSchema(table.schema), num_rows: table.numRows, rows: ipc.tableRows(table),
           messages: describeStream(messages) };
}

function describeInfo(info) {
  return {
    schema: ipc.describeSchema(ipc.schemaFromEncapsulated(info.schema)),
    descriptor_type: info.flight_descriptor ? info.flight_descriptor.type : null,
    descriptor_cmd_echoed: !!(info.flight_descriptor && info.flight_descriptor.cmd && info.flight_descriptor.cmd.length),
    endpoints: info.endpoint.length,
    locations: info.endpoint.map((e) => e.location.map((l) => l.uri)),
    total_records: info.total_records,
    total_bytes: info.total_bytes,
    ordered: info.ordered,
  };
}

// GetFlightInfo(command) then DoGet(endpoint[0].ticket).
async function infoThenGet(name, obj, step, result) {
  const info = await unary('GetFlightInfo', cmdDescriptor(name, obj), step);
  result.info = describeInfo(info);
  if (!info.endpoint.length || !info.endpoint[0].ticket) throw new Error('FlightInfo has no endpoint with a ticket');
  result.ticket_text = printable(info.endpoint[0].ticket.ticket);
  Object.assign(result, await doGet(info.endpoint[0].ticket.ticket, step));
  return result;
}

function printable(buf) {
  const s = Buffer.from(buf).toString('utf8');
  return /^[\x20-\x7e\s]*$/.test(s) ? s : Buffer.from(buf).toString('base64');
}

// Parameters as a one-row Arrow table: strings as Utf8 (not the dictionary tableFromArrays makes),
// integers (BigInt or integral numbers marked {int: n}) as Int64, other numbers as Float64, booleans.
function paramTable(params) {
  const cols = {};
  for (const [k, v] of Object.entries(params || {})) {
    if (typeof v === 'string') cols[k] = arrow.vectorFromArray([v], new arrow.Utf8());
    else if (typeof v === 'boolean') cols[k] = arrow.vectorFromArray([v], new arrow.Bool());
    else if (typeof v === 'object' && v && 'int' in v) cols[k] = arrow.vectorFromArray([BigInt(v.int)], new arrow.Int64());
    else if (typeof v === 'number') cols[k] = arrow.vectorFromArray([v], new arrow.Float64());
    else throw new Error(`unsupported parameter ${k}=${JSON.stringify(v)}`);
  }
  return new arrow.Table(cols);
}

const ops = {
  async handshake(step, r) {
    const { responses, headers } = await bidi('Handshake', [{ protocol_version: 0, payload: Buffer.from(step.payload || '') }], step);
    r.responses = responses.map((m) => ({ protocol_version: m.protocol_version, payload: printable(m.payload) }));
    r.authorization_header = headers && headers.authorization ? String(headers.authorization) : null;
  },
  async sql_info(step, r) {
    await infoThenGet('CommandGetSqlInfo', { info: step.info || [] }, step, r);
  },
  async catalogs(step, r) {
    await infoThenGet('CommandGetCatalogs', {}, step, r);
  },
  async db_schemas(step, r) {
    const cmd = {};
    if (step.catalog !== undefined) cmd.catalog = step.catalog;
    if (step.db_schema_filter_pattern !== undefined) cmd.db_schema_filter_pattern = step.db_schema_filter_pattern;
    await infoThenGet('CommandGetDbSchemas', cmd, step, r);
  },
  async tables(step, r) {
    const cmd = { include_schema: !!step.include_schema, table_types: step.table_types || [] };
    for (const k of ['catalog', 'db_schema_filter_pattern', 'table_name_filter_pattern']) {
      if (step[k] !== undefined) cmd[k] = step[k];
    }
    await infoThenGet('CommandGetTables', cmd, step, r);
    if (cmd.include_schema) {
      // table_schema is an encapsulated IPC schema: decode it (the rows carry it as base64).
      for (const row of r.rows) {
        if (row.table_schema) row.table_schema = ipc.describeSchema(ipc.schemaFromEncapsulated(Buffer.from(row.table_schema, 'base64')));
      }
    }
  },
  async tables_with_schema(step, r) {
    await ops.tables({ ...step, include_schema: true }, r);
  },
  async table_types(step, r) {
    await infoThenGet('CommandGetTableTypes', {}, step, r);
  },
  async primary_keys(step, r) {
    await infoThenGet('CommandGetPrimaryKeys', { table: step.table || 'cpu' }, step, r);
  },
  async statement(step, r) {
    await infoThenGet('CommandStatementQuery', { query: step.query || job.query || 'SELECT 1 AS one' }, step, r);
  },
  async doget(step, r) {
    const ticket = step.ticket_base64 !== undefined ? Buffer.from(step.ticket_base64, 'base64') : Buffer.from(step.ticket || '');
    Object.assign(r, await doGet(ticket, step));
  },
  async list_actions(step, r) {
    r.actions = (await serverStream('ListActions', {}, step)).map((a) => a.type);
  },
  async prepared(step, r) {
    const spec = { ...(job.prepared || {}), ...(step.prepared || {}) };
    const query = step.query || spec.query;
    const params = step.params || spec.params || {};
    r.stage = 'create';
    const created = await serverStream('DoAction', {
      type: 'CreatePreparedStatement', body: packAny('ActionCreatePreparedStatementRequest', { query }),
    }, step);
    if (created.length !== 1) throw new Error(`CreatePreparedStatement answered ${created.length} results`);
    const res = unpackAny(created[0].body);
    r.create = {
      type_url: res.type_url,
      handle_text: printable(res.value.prepared_statement_handle),
      dataset_schema: ipc.describeSchema(ipc.schemaFromEncapsulated(res.value.dataset_schema)),
      parameter_schema: ipc.describeSchema(ipc.schemaFromEncapsulated(res.value.parameter_schema)),
      is_update: res.value.is_update,
    };
    let handle = res.value.prepared_statement_handle;
    if (Object.keys(params).length) {
      r.stage = 'put';
      const msgs = ipc.splitStream(arrow.tableToIPC(paramTable(params), 'stream'));
      const descriptor = cmdDescriptor('CommandPreparedStatementQuery', { prepared_statement_handle: handle });
      const flightData = msgs.map((m, i) => ({
        flight_descriptor: i === 0 ? descriptor : null, data_header: m.header, data_body: m.body,
        app_metadata: Buffer.alloc(0),
      }));
      r.put_messages = msgs.map((m) => m.headerType);
      const { responses } = await bidi('DoPut', flightData, step);
      r.put_results = responses.map((p) => {
        if (!p.app_metadata || !p.app_metadata.length) return { app_metadata: null };
        const d = decode(SQL + 'DoPutPreparedStatementResult', p.app_metadata);
        return { handle_text: d.prepared_statement_handle ? printable(d.prepared_statement_handle) : null,
                 handle: d.prepared_statement_handle };
      });
      const updated = r.put_results.find((p) => p.handle && p.handle.length);
      if (updated) handle = updated.handle;
      for (const p of r.put_results) delete p.handle;
      r.handle_updated_by_put = !!updated;
    }
    r.stage = 'query';
    r.query = await infoThenGet('CommandPreparedStatementQuery', { prepared_statement_handle: handle }, step, {});
    r.stage = 'close';
    const closed = await serverStream('DoAction', {
      type: 'ClosePreparedStatement',
      body: packAny('ActionClosePreparedStatementRequest', { prepared_statement_handle: res.value.prepared_statement_handle }),
    }, step);
    r.close_results = closed.length;
    r.stage = 'done';
  },
};

const DEFAULT_STEPS = ['handshake', 'sql_info', 'catalogs', 'db_schemas', 'tables', 'tables_with_schema', 'table_types',
                       'statement', 'prepared'];

async function main() {
  const steps = (job.steps || DEFAULT_STEPS).map((s) => (typeof s === 'string' ? { op: s } : s));
  const results = [];
  for (const step of steps) {
    const r = { op: step.op, ok: false };
    if (step.name) r.name = step.name;
    const t0 = Date.now();
    try {
      if (!ops[step.op]) throw new Error(`unknown op ${step.op}`);
      await ops[step.op](step, r);
      r.ok = true;
    } catch (e) {
      if (typeof e.code === 'number') {
        r.error = grpcError(e);
      } else {
        r.error = { code: null, name: null, details: String(e && e.stack ? e.stack : e) };
      }
      if (e.partial) r.partial_messages = e.partial.length;
    }
    r.elapsed_ms = Date.now() - t0;
    results.push(r);
  }
  client.close();
  process.stdout.write(JSON.stringify({ steps: results }) + '\n');
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ fatal: String(e && e.stack ? e.stack : e) }) + '\n');
  process.exit(2);
});
