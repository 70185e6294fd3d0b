#!/usr/bin/env node
// A lean Flight DoGet reader for bench/flight.py: @grpc/grpc-js with pass-through (de)serializers, so
// each FlightData arrives as raw protobuf bytes; it counts them and decodes only the IPC Message
// header (apache-arrow's flatbuffer reader) to add up RecordBatch row counts. No column is decoded.
//
//   NODE_PATH=build/node/node_modules node bench/flight_count.cjs '{"host","database","sql","token"?,"query_type"?}'
//
// Prints {rows, batches, messages, bytes (FlightData bytes received), body_bytes, ttfb_ms, elapsed_ms};
// on a gRPC error {"error": {code, details}} and exit code 2.
'use strict';
const grpc = require('@grpc/grpc-js');
const arrow = require('apache-arrow');

const job = JSON.parse(process.argv[2] || require('fs').readFileSync(0, 'utf8'));

function varint(n) {
  const out = [];
  while (n > 127) { out.push((n & 127) | 128); n = Math.floor(n / 128); }
  out.push(n);
  return Buffer.from(out);
}

const ticketJson = Buffer.from(JSON.stringify({ database: job.database, sql_query: job.sql,
                                                query_type: job.query_type || 'sql' }));
const ticket = Buffer.concat([Buffer.from([0x0a]), varint(ticketJson.length), ticketJson]);

function readVarint(buf, pos) {
  let result = 0;
  let mul = 1;
  for (;;) {
    const b = buf[pos++];
    result += (b & 127) * mul;
    if (b < 128) return [result, pos];
    mul *= 128;
  }
}

let rows = 0;
let batches = 0;
let messages = 0;
let bytes = 0;
let bodyBytes = 0;
let first = null;

function onFlightData(buf) {
  messages++;
  bytes += buf.length;
  let pos = 0;
  while (pos < buf.length) {
    let tag;
    [tag, pos] = readVarint(buf, pos);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire !== 2) throw new Error(`unexpected wire type ${wire} for field ${field}`);
    let len;
    [len, pos] = readVarint(buf, pos);
    if (field === 2 && len > 0) {
      const m = arrow.Message.decode(buf.subarray(pos, pos + len));
      if (m.headerType === arrow.MessageHeader.RecordBatch) {
        batches++;
        rows += Number(m.header().length);
      }
    } else if (field === 1000) {
      bodyBytes += len;
    }
    pos += len;
  }
}

const target = String(job.host).replace(/^https?:\/\//, '').replace(/\/+$/, '');
const client = new grpc.Client(target, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 });
const md = new grpc.Metadata();
if (job.token) md.set('authorization', `Bearer ${job.token}`);
const t0 = process.hrtime.bigint();
const call = client.makeServerStreamRequest('/arrow.flight.protocol.FlightService/DoGet', (b) => b, (b) => b, ticket, md,
                                            { deadline: new Date(Date.now() + (job.timeout || 3600000)) });
call.on('data', (buf) => {
  if (first === null) first = process.hrtime.bigint();
  onFlightData(buf);
});
call.on('error', (e) => {
  process.stdout.write(JSON.stringify({ error: { code: e.code, details: e.details } }) + '\n');
  process.exit(2);
});
call.on('end', () => {
  const end = process.hrtime.bigint();
  process.stdout.write(JSON.stringify({
    rows, batches, messages, bytes, body_bytes: bodyBytes,
    ttfb_ms: first === null ? null : Number(first - t0) / 1e6, elapsed_ms: Number(end - t0) / 1e6,
  }) + '\n');
  client.close();
});
