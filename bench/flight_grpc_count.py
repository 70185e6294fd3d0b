"""A lean Flight DoGet reader on gRPC's C core (Debian's python3-grpcio) for bench/flight.py: each
FlightData arrives as raw bytes; only its IPC Message header is read (the RecordBatch's row count),
no column is decoded. grpc-js (bench/flight_count.cjs) spends more CPU in HTTP/2 than the server
spends producing the stream; this reader shows what a native client (pyarrow, Go, Java, Grafana)
gets.

    python3 bench/flight_grpc_count.py '{"host": "127.0.0.1:8181", "database": "db", "sql": "SELECT ..."}'

Prints {rows, batches, messages, bytes, ttfb_ms, elapsed_ms}; on a gRPC error {"error": {...}}, exit 2.
"""
import json
import struct
import sys
import time

import grpc


def varint(n):
    out = b""
    while n > 127:
        out += bytes([(n & 127) | 128])
        n >>= 7
    return out + bytes([n])


def read_varint(buf, pos):
    shift = result = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 127) << shift
        if b < 128:
            return result, pos
        shift += 7


def data_header(msg):
    """Field 2 of a FlightData message."""
    pos = 0
    while pos < len(msg):
        key, pos = read_varint(msg, pos)
        field, wire = key >> 3, key & 7
        if wire != 2:  # only length-delimited fields are expected
            return b""
        n, pos = read_varint(msg, pos)
        if field == 2:
            return msg[pos:pos + n]
        pos += n
    return b""


def table_field(buf, table, field):
    """Absolute position of a flatbuffer table's field, or None when absent."""
    vtable = table - struct.unpack_from("<i", buf, table)[0]
    vsize = struct.unpack_from("<H", buf, vtable)[0]
    slot = 4 + 2 * field
    if slot >= vsize:
        return None
    off = struct.unpack_from("<H", buf, vtable + slot)[0]
    return table + off if off else None


def batch_rows(header):
    """Rows of a RecordBatch Message (0 for a Schema)."""
    root = struct.unpack_from("<I", header, 0)[0]
    kind = table_field(header, root, 1)
    if kind is None or header[kind] != 3:  # MessageHeader.RecordBatch
        return None
    at = table_field(header, root, 2)
    batch = at + struct.unpack_from("<I", header, at)[0]
    length = table_field(header, batch, 0)
    return struct.unpack_from("<q", header, length)[0] if length is not None else 0


def main():
    job = json.loads(sys.argv[1])
    ticket_json = json.dumps({"database": job["database"], "sql_query": job["sql"],
                              "query_type": job.get("query_type", "sql")}).encode()
    ticket = b"\x0a" + varint(len(ticket_json)) + ticket_json
    metadata = [("authorization", "Bearer " + job["token"])] if job.get("token") else None
    with grpc.insecure_channel(job["host"].removeprefix("http://"),
                               options=[("grpc.max_receive_message_length", 64 << 20)]) as channel:
        doget = channel.unary_stream("/arrow.flight.protocol.FlightService/DoGet",
                                     request_serializer=lambda b: b, response_deserializer=lambda b: b)
        started = time.perf_counter()
        rows = batches = messages = nbytes = 0
        ttfb = None
        try:
            for msg in doget(ticket, metadata=metadata):
                if ttfb is None:
                    ttfb = (time.perf_counter() - started) * 1000
                messages += 1
                nbytes += len(msg)
                n = batch_rows(data_header(msg))
                if n is not None:
                    batches += 1
                    rows += n
        except grpc.RpcError as e:
            print(json.dumps({"error": {"code": e.code().value[0], "details": e.details()}}))
            sys.exit(2)
        print(json.dumps({"rows": rows, "batches": batches, "messages": messages, "bytes": nbytes, "ttfb_ms": ttfb,
                          "elapsed_ms": (time.perf_counter() - started) * 1000}))


if __name__ == "__main__":
    main()
