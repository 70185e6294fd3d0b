#!/usr/bin/env node
// Drives the official InfluxDB 3 JavaScript client (@influxdata/influxdb3-client, which queries
// over Arrow Flight DoGet) against a server and prints what it got back as JSON.
//
//   NODE_PATH=build/node/node_modules node tests/e2e/flight/client.cjs '<job JSON>'   (or the job on stdin)
//
// job: {host, token?, database, timeout? (ms, the client's queryTimeout), headers?,
//       queries: [{sql, type?: "sql"|"influxql", params?, mode?, measurement?, timeout?}]}
// modes:
//   rows    (default) client.query(): every row as an object, as the client converts it
//   points  client.queryPoints(): every point's asPoint().toLineProtocol() (`measurement`, when given,
//           is used for points that have none, since SQL results carry no measurement column; a
//           point without one prints null). The client gets Timestamp values from apache-arrow 21
//           as float milliseconds, so the line protocol's time is in ms (Math.floor), not ns.
//   count   client.query(), counting rows without keeping them (for results of millions of rows)
//   batches the client's own Flight/Arrow decoding (_queryRawBatches, what query() iterates), counting
//           rows and batches only: the fastest way through the official client
//   raw     like batches, but also prints the schema (field names, Arrow types, nullability,
//           metadata) and the rows with the exact stored values (Timestamp as its int64, not the
//           float milliseconds apache-arrow's get() returns)
// Output: {"results": [...one entry per query...]}; BigInt values are printed as strings.
// On an error: {"error": {code, name, message}, "index": <query>, "results": [...]} and exit code 2,
// where code is the numeric gRPC status (name its grpc-js name) when the error is a gRPC one.
'use strict';
const fs = require('fs');
const { InfluxDBClient } = require('@influxdata/influxdb3-client');
const grpc = require('@grpc/grpc-js');
const arrow = require('apache-arrow');

function readJob() {
  const text = process.argv[2] !== undefined ? process.argv[2] : fs.readFileSync(0, 'utf8');
  return JSON.parse(text);
}

function jsonable(v) {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return v;
}

function fieldInfo(f) {
  return {
    name: f.name,
    type: String(f.type),
    typeId: arrow.Type[f.typeId],
    nullable: f.nullable,
    metadata: Object.fromEntries(f.metadata),
  };
}

// The exact value of row `i` of an Arrow column: timestamps as their stored int64 (as a string).
function exactValue(col, field, i) {
  if (field.typeId === arrow.Type.Timestamp) {
    for (const d of col.data) {
      if (i < d.length) {
        if (d.nullCount > 0 && !col.isValid(i)) return null;
        return d.values[d.offset + i].toString();
      }
      i -= d.length;
    }
    return null;
  }
  return jsonable(col.get(i));
}

function errorInfo(e) {
  // protobuf-ts' RpcError carries the grpc-js status name (e.g. "NOT_FOUND") in `code`.
  let code = null;
  let name = null;
  if (typeof e.code === 'string' && grpc.status[e.code] !== undefined) {
    name = e.code;
    code = grpc.status[e.code];
  } else if (typeof e.code === 'number') {
    code = e.code;
    name = grpc.status[e.code] || null;
  }
  return { code, name, message: String(e.message || e), type: e.name || null };
}

async function runQuery(client, db, q) {
  const opts = { type: q.type || 'sql' };
  if (q.params) opts.params = q.params;
  if (q.timeout !== undefined) opts.timeout = q.timeout;
  const mode = q.mode || 'rows';
  const t0 = process.hrtime.bigint();
  const out = { mode };
  if (mode === 'rows') {
    out.rows = [];
    for await (const row of client.query(q.sql, db, opts)) {
      const r = {};
      for (const [k, v] of Object.entries(row)) r[k] = jsonable(v);
      out.rows.push(r);
    }
  } else if (mode === 'points') {
    out.points = [];
    for await (const values of client.queryPoints(q.sql, db, opts)) {
      // queryPoints yields PointValues; asPoint() needs a measurement, which only InfluxQL results
      // (the iox::measurement column) carry.
      const measurement = values.getMeasurement() || q.measurement;
      out.points.push(measurement ? values.asPoint(measurement).toLineProtocol() ?? null : null);
    }
  } else if (mode === 'count') {
    let n = 0;
    for await (const _row of client.query(q.sql, db, opts)) n++; // eslint-disable-line no-unused-vars
    out.count = n;
  } else if (mode === 'batches' || mode === 'raw') {
    // The same call query() and queryPoints() make; merged options as the public methods do.
    const merged = client._mergeQueryOptions(opts);
    let n = 0;
    let batches = 0;
    let schema = null;
    const rows = [];
    for await (const batch of client._queryApi._queryRawBatches(q.sql, db, merged)) {
      batches++;
      n += batch.numRows;
      if (!schema) schema = batch.schema.fields.map(fieldInfo);
      if (mode === 'raw') {
        const fields = batch.schema.fields;
        for (let i = 0; i < batch.numRows; i++) {
          const r = {};
          fields.forEach((f, c) => { r[f.name] = exactValue(batch.getChildAt(c), f, i); });
          rows.push(r);
        }
      }
    }
    out.count = n;
    out.batches = batches;
    out.schema = schema;
    if (mode === 'raw') out.rows = rows;
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  out.elapsed_ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return out;
}

async function main() {
  const job = readJob();
  const options = { host: job.host, token: job.token === undefined || job.token === null ? '' : job.token };
  if (job.timeout !== undefined) options.queryTimeout = job.timeout;
  if (job.headers) options.headers = job.headers;
  const client = new InfluxDBClient(options);
  const results = [];
  let index = 0;
  try {
    for (; index < job.queries.length; index++) {
      results.push(await runQuery(client, job.database, job.queries[index]));
    }
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: errorInfo(e), index, results }) + '\n');
    await client.close().catch(() => {});
    process.exit(2);
  }
  await client.close();
  process.stdout.write(JSON.stringify({ results }) + '\n');
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ error: errorInfo(e), index: null, results: [] }) + '\n');
  process.exit(2);
});
