// Arrow IPC helpers for the Flight scripts: FlightData <-> IPC stream bytes, with apache-arrow.
'use strict';
const arrow = require('apache-arrow');

const CONTINUATION = 0xffffffff;

function pad8(n) {
  return (8 - (n % 8)) % 8;
}

// One IPC stream message (encapsulated format) from a Flight data_header + data_body:
// 0xFFFFFFFF, int32 LE metadata length (padded to 8), the flatbuffer, padding, the body.
function encapsulate(header, body) {
  header = header || Buffer.alloc(0);
  body = body || Buffer.alloc(0);
  const padding = pad8(header.length);
  const prefix = Buffer.alloc(8);
  prefix.writeUInt32LE(CONTINUATION, 0);
  prefix.writeInt32LE(header.length + padding, 4);
  return Buffer.concat([prefix, Buffer.from(header), Buffer.alloc(padding), Buffer.from(body)]);
}

const EOS = Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);

// Summary of a bare flatbuffer Message (a Flight data_header).
function describeHeader(header) {
  if (!header || header.length === 0) return { headerType: null, bodyLength: 0 };
  const m = arrow.Message.decode(new Uint8Array(header.buffer, header.byteOffset, header.length));
  return { headerType: arrow.MessageHeader[m.headerType], bodyLength: Number(m.bodyLength), version: m.version };
}

// Splits IPC stream bytes (as tableToIPC(t, 'stream') writes them) into {header, body} messages.
function splitStream(bytes) {
  bytes = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = [];
  let pos = 0;
  while (pos + 8 <= bytes.length) {
    let len = bytes.readInt32LE(pos);
    let start = pos + 4;
    if (bytes.readUInt32LE(pos) === CONTINUATION) {
      len = bytes.readInt32LE(pos + 4);
      start = pos + 8;
    }
    if (len === 0) break; // end of stream
    const header = bytes.subarray(start, start + len);
    const m = arrow.Message.decode(new Uint8Array(header.buffer, header.byteOffset, header.length));
    const bodyLength = Number(m.bodyLength);
    const body = bytes.subarray(start + len, start + len + bodyLength);
    out.push({ header: Buffer.from(header), body: Buffer.from(body), headerType: arrow.MessageHeader[m.headerType] });
    pos = start + len + bodyLength;
  }
  return out;
}

// An apache-arrow Table from the FlightData messages of one stream.
function tableFromFlightData(messages) {
  const parts = messages.filter((m) => m.data_header && m.data_header.length > 0)
    .map((m) => encapsulate(m.data_header, m.data_body));
  parts.push(EOS);
  return arrow.tableFromIPC(Buffer.concat(parts));
}

// The schema of an encapsulated IPC Schema message (FlightInfo.schema, GetTables' table_schema,
// a prepared statement's dataset/parameter schema). Empty bytes give null.
function schemaFromEncapsulated(bytes) {
  if (!bytes || bytes.length === 0) return null;
  const buf = Buffer.concat([Buffer.from(bytes), EOS]);
  return arrow.tableFromIPC(buf).schema;
}

function describeField(f) {
  const out = { name: f.name, type: String(f.type), typeId: arrow.Type[f.typeId], nullable: f.nullable,
                metadata: Object.fromEntries(f.metadata) };
  if (f.type && Array.isArray(f.type.children) && f.type.children.length) out.children = f.type.children.map(describeField);
  return out;
}

function describeSchema(schema) {
  if (!schema) return null;
  return { fields: schema.fields.map(describeField), metadata: Object.fromEntries(schema.metadata) };
}

// A JSON-friendly value from apache-arrow: BigInt as a string, vectors as arrays, struct/map rows as objects.
function toJs(v) {
  if (v === null || v === undefined) return v === undefined ? null : v;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (v instanceof arrow.Vector) return [...v].map(toJs);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), toJs(x)]));
  if (typeof v === 'object' && typeof v.toJSON === 'function') {
    const j = v.toJSON();
    if (j !== v) return toJs(j);
  }
  if (Array.isArray(v)) return v.map(toJs);
  if (typeof v === 'object' && v.constructor === Object) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJs(x)]));
  }
  return v;
}

// Rows of a table as plain objects; Timestamp columns as their stored int64 (string), not the
// float milliseconds apache-arrow's get() returns.
function tableRows(table) {
  const rows = [];
  const fields = table.schema.fields;
  const cols = fields.map((f, i) => table.getChildAt(i));
  for (let r = 0; r < table.numRows; r++) {
    const row = {};
    fields.forEach((f, c) => {
      const col = cols[c];
      if (f.typeId === arrow.Type.Timestamp) {
        let i = r;
        let value = null;
        for (const d of col.data) {
          if (i < d.length) {
            value = col.isValid(r) ? d.values[d.offset + i].toString() : null;
            break;
          }
          i -= d.length;
        }
        row[f.name] = value;
      } else {
        row[f.name] = toJs(col.get(r));
      }
    });
    rows.push(row);
  }
  return rows;
}

module.exports = { encapsulate, EOS, splitStream, tableFromFlightData, schemaFromEncapsulated, describeSchema,
                   describeField, describeHeader, toJs, tableRows };
