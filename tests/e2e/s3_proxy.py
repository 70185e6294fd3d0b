"""A fault-injecting, signature-checking HTTP/1.1 reverse proxy for S3, and a tiny signed S3
client. Standard library only.

The end-to-end tests put `S3Proxy` between Riffle (`serve --object-store s3 --aws-endpoint
<proxy>`) and an S3 server (s3rver, or a real one such as Ceph's RADOS Gateway):

- every request's AWS Signature Version 4 is verified here, independently of the server
  (s3rver does not check V4 signatures at all): canonical request from the method, the
  URI-encoded path, the sorted query, the headers listed in SignedHeaders and the payload hash of
  `x-amz-content-sha256`, which must itself match the body unless it is UNSIGNED-PAYLOAD. A bad
  signature is answered 403 SignatureDoesNotMatch and counted (`bad_signatures`);
- faults are injected on command (`fail_next`, `slowdown`, `stall`, `drop_connections`, `down`,
  `up`), optionally only for some methods and keys, from Python (the proxy runs in a thread of
  the test) or over a control endpoint under `/__proxy__/` (for a proxy run as a program:
  `python3 s3_proxy.py --upstream http://127.0.0.1:4568`);
- requests are counted by method and logged (`requests`, `log`).

`sign_headers` and `S3Client` sign requests the same way (bucket creation, listing and reading
objects from the tests). The verifier was checked against AWS's published Signature V4 examples
for S3 and against `curl --aws-sigv4` (libcurl, as Riffle): see `self_test()`.
"""
import argparse
import collections
import datetime
import hashlib
import hmac
import http.client
import http.server
import json
import re
import socket
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape as xml_escape

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
CONTROL_PREFIX = "/__proxy__/"
# Not forwarded either way: connection-level headers, and Expect (answered here).
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "trailers", "transfer-encoding", "upgrade", "expect", "proxy-connection"}
MAX_SKEW = datetime.timedelta(minutes=15)


# ---------------------------------------------------------------------------------------------
# Signature Version 4 (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html)

def uri_encode(text, encode_slash=True):
    """AWS's UriEncode: every byte but A-Z a-z 0-9 - _ . ~ (and '/' when encode_slash is false)
    as %XX with upper-case hex."""
    return urllib.parse.quote(text, safe="" if encode_slash else "/")


def canonical_uri(raw_path):
    """The canonical URI of a path as received: each segment decoded once and encoded again, so
    that a client that encoded a key and one that sent it raw sign the same thing an S3 server
    would (S3 does not normalise '.', '..' or '//')."""
    if not raw_path:
        return "/"
    return "/".join(uri_encode(urllib.parse.unquote(seg)) for seg in raw_path.split("/"))


def parse_query(raw_query):
    """[(name, value)] of a raw query string, decoded; `?uploads` gives ('uploads', '')."""
    pairs = []
    for piece in raw_query.split("&") if raw_query else []:
        if not piece:
            continue
        name, _, value = piece.partition("=")
        pairs.append((urllib.parse.unquote(name), urllib.parse.unquote(value)))
    return pairs


def canonical_query(raw_query):
    encoded = sorted((uri_encode(n), uri_encode(v)) for n, v in parse_query(raw_query))
    return "&".join(f"{n}={v}" for n, v in encoded)


def _trim(value):
    return re.sub(r"\s+", " ", value.strip())


def canonical_request(method, raw_path, raw_query, header_values, signed_headers, payload_hash):
    """`header_values(name)` gives every value of a header (lower-case name), in order."""
    lines = []
    for name in signed_headers:
        values = header_values(name)
        lines.append(f"{name}:{','.join(_trim(v) for v in values)}\n")
    return "\n".join([method, canonical_uri(raw_path), canonical_query(raw_query), "".join(lines),
                      ";".join(signed_headers), payload_hash])


def signing_key(secret, date, region, service):
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def string_to_sign(amz_date, scope, canonical):
    return "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])


def signature(secret, amz_date, region, service, canonical):
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    return hmac.new(signing_key(secret, amz_date[:8], region, service),
                    string_to_sign(amz_date, scope, canonical).encode(), hashlib.sha256).hexdigest()


def parse_authorization(value):
    """{'access_key', 'date', 'region', 'service', 'terminator', 'signed_headers', 'signature'}
    of an `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...` header, or None."""
    if not value or not value.startswith(ALGORITHM + " "):
        return None
    parts = {}
    for item in value[len(ALGORITHM) + 1:].split(","):
        name, sep, val = item.strip().partition("=")
        if not sep:
            return None
        parts[name] = val
    if set(parts) != {"Credential", "SignedHeaders", "Signature"}:
        return None
    cred = parts["Credential"].split("/")
    if len(cred) != 5:
        return None
    return {"access_key": cred[0], "date": cred[1], "region": cred[2], "service": cred[3],
            "terminator": cred[4], "signed_headers": parts["SignedHeaders"].split(";"),
            "signature": parts["Signature"]}


class SignatureError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def verify(method, raw_path, raw_query, header_values, body, credentials, region=None, service="s3",
           now=None, allow_anonymous=False):
    """Checks one request. `credentials` maps access key → secret key; `header_values(name)`
    gives the values of a header (lower-case name). Returns the access key (None for an
    anonymous request when allowed); raises SignatureError with the S3 status and code."""
    auth = header_values("authorization")
    if not auth:
        if allow_anonymous:
            return None
        raise SignatureError(403, "AccessDenied", "Anonymous access is not allowed here")
    parsed = parse_authorization(auth[0])
    if parsed is None:
        raise SignatureError(400, "AuthorizationHeaderMalformed",
                             f"The authorization header is malformed: {auth[0][:120]}")
    if parsed["access_key"] not in credentials:
        raise SignatureError(403, "InvalidAccessKeyId",
                             "The AWS Access Key Id you provided does not exist in our records.")
    if parsed["terminator"] != "aws4_request" or parsed["service"] != service:
        raise SignatureError(400, "AuthorizationHeaderMalformed", f"bad credential scope in {auth[0][:120]}")
    if region is not None and parsed["region"] != region:
        raise SignatureError(400, "AuthorizationHeaderMalformed",
                             f"the region '{parsed['region']}' is wrong; expecting '{region}'")
    signed = parsed["signed_headers"]
    if signed != sorted(signed) or any(h != h.lower() for h in signed) or "host" not in signed:
        raise SignatureError(400, "AuthorizationHeaderMalformed",
                             f"SignedHeaders must be sorted, lower-case and include host: {';'.join(signed)}")
    for name in signed:
        if not header_values(name):
            raise SignatureError(403, "SignatureDoesNotMatch", f"signed header '{name}' is not in the request")
    amz_date = (header_values("x-amz-date") or [None])[0]
    if amz_date is None:
        raise SignatureError(403, "AccessDenied", "AWS authentication requires a valid x-amz-date header")
    try:
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        raise SignatureError(403, "AccessDenied", f"invalid x-amz-date '{amz_date}'") from None
    if amz_date[:8] != parsed["date"]:
        raise SignatureError(403, "SignatureDoesNotMatch", "the credential date is not the x-amz-date date")
    if now is not None and abs(now - when) > MAX_SKEW:
        raise SignatureError(403, "RequestTimeTooSkewed",
                             "The difference between the request time and the current time is too large.")
    content_sha = (header_values("x-amz-content-sha256") or [None])[0]
    if content_sha is None:
        raise SignatureError(400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
    if content_sha != UNSIGNED:
        if not re.fullmatch(r"[0-9a-f]{64}", content_sha):
            raise SignatureError(400, "InvalidArgument",
                                 "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a lower-case hex sha256")
        if hashlib.sha256(body).hexdigest() != content_sha:
            raise SignatureError(400, "XAmzContentSHA256Mismatch",
                                 "The provided 'x-amz-content-sha256' header does not match what was computed.")
    canonical = canonical_request(method, raw_path, raw_query, header_values, signed, content_sha)
    expected = signature(credentials[parsed["access_key"]], amz_date, parsed["region"], parsed["service"], canonical)
    if not hmac.compare_digest(expected, parsed["signature"]):
        raise SignatureError(403, "SignatureDoesNotMatch",
                             "The request signature we calculated does not match the signature you provided. "
                             "Check your key and signing method.\nCanonical request:\n" + canonical)
    return parsed["access_key"]


def sign_headers(method, url, access_key, secret_key, region="us-east-1", body=b"", headers=None,
                 payload_hash=None, amz_date=None, service="s3"):
    """The headers of a signed request (Host, x-amz-date, x-amz-content-sha256, Authorization
    plus `headers`, all of which are signed)."""
    u = urllib.parse.urlsplit(url)
    amz_date = amz_date or datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    payload_hash = payload_hash or hashlib.sha256(body).hexdigest()
    out = {"host": u.netloc, "x-amz-date": amz_date, "x-amz-content-sha256": payload_hash}
    for k, v in (headers or {}).items():
        out[k.lower()] = v
    signed = sorted(out)
    canonical = canonical_request(method, u.path or "/", u.query, lambda n: [out[n]] if n in out else [],
                                  signed, payload_hash)
    sig = signature(secret_key, amz_date, region, service, canonical)
    out["authorization"] = (f"{ALGORITHM} Credential={access_key}/{amz_date[:8]}/{region}/{service}/aws4_request, "
                            f"SignedHeaders={';'.join(signed)}, Signature={sig}")
    return out


# ---------------------------------------------------------------------------------------------
# A small signed S3 client (path-style), for the tests' own look at a bucket.

class S3Error(Exception):
    def __init__(self, status, body):
        super().__init__(f"S3 answered {status}: {body[:300]!r}")
        self.status, self.body = status, body


class S3Client:
    def __init__(self, endpoint, access_key, secret_key, region="us-east-1", timeout=30):
        self.endpoint = endpoint.rstrip("/")
        self.access_key, self.secret_key, self.region = access_key, secret_key, region
        self.timeout = timeout

    def request(self, method, path, query="", body=b"", headers=None, ok=(200, 204)):
        """(status, headers, body) of one signed request; `path` is the unencoded '/bucket/key'."""
        url = self.endpoint + urllib.parse.quote(path, safe="/") + (f"?{query}" if query else "")
        h = sign_headers(method, url, self.access_key, self.secret_key, self.region, body, headers)
        u = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=self.timeout)
        try:
            conn.putrequest(method, u.path + (f"?{u.query}" if u.query else ""), skip_host=True,
                            skip_accept_encoding=True)
            for k, v in h.items():
                conn.putheader(k, v)
            conn.putheader("content-length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        if ok is not None and resp.status not in ok:
            raise S3Error(resp.status, data)
        return resp.status, dict(resp.getheaders()), data

    def create_bucket(self, bucket):
        status, _, body = self.request("PUT", f"/{bucket}", ok=None)
        if status != 200 and b"BucketAlreadyOwnedByYou" not in body:
            raise S3Error(status, body)

    def put_object(self, bucket, key, data):
        self.request("PUT", f"/{bucket}/{key}", body=bytes(data))

    def get_object(self, bucket, key):
        """The object's bytes; FileNotFoundError when there is none."""
        status, _, body = self.request("GET", f"/{bucket}/{key}", ok=None)
        if status == 404:
            raise FileNotFoundError(f"s3://{bucket}/{key}")
        if status != 200:
            raise S3Error(status, body)
        return body

    def head_object(self, bucket, key):
        """Its size, or None when there is no such object."""
        status, headers, _ = self.request("HEAD", f"/{bucket}/{key}", ok=None)
        if status == 404:
            return None
        if status != 200:
            raise S3Error(status, b"")
        return int({k.lower(): v for k, v in headers.items()}.get("content-length", "0"))

    def delete_object(self, bucket, key):
        self.request("DELETE", f"/{bucket}/{key}")

    def list_objects(self, bucket, prefix="", max_keys=None):
        """[(key, size)] under `prefix`, sorted, through every page of ListObjectsV2 (pages of
        `max_keys`, default the server's 1000)."""
        out, token = [], None
        while True:
            q = {"list-type": "2", "prefix": prefix}
            if max_keys:
                q["max-keys"] = str(max_keys)
            if token:
                q["continuation-token"] = token
            query = "&".join(f"{uri_encode(k)}={uri_encode(v)}" for k, v in sorted(q.items()))
            _, _, body = self.request("GET", f"/{bucket}", query=query)
            root = ET.fromstring(body)
            strip = lambda tag: tag.rsplit("}", 1)[-1]  # noqa: E731 (namespace-agnostic)
            truncated, token = False, None
            for el in root:
                if strip(el.tag) == "Contents":
                    fields = {strip(c.tag): c.text or "" for c in el}
                    out.append((fields["Key"], int(fields.get("Size", "0"))))
                elif strip(el.tag) == "IsTruncated":
                    truncated = (el.text or "").strip() == "true"
                elif strip(el.tag) == "NextContinuationToken":
                    token = el.text
            if not truncated or not token:
                return sorted(out)

    def list_keys(self, bucket, prefix="", max_keys=None):
        return [k for k, _ in self.list_objects(bucket, prefix, max_keys)]


# ---------------------------------------------------------------------------------------------
# The proxy.

class Rule:
    """One fault: `kind` is fail | slowdown | stall | drop; `remaining` None = until cleared."""

    def __init__(self, kind, remaining, method=None, key=None, query=None, status=None, code=None,
                 seconds=0.0, after_forward=False):
        self.kind, self.remaining = kind, remaining
        self.methods = {method.upper()} if isinstance(method, str) else ({m.upper() for m in method} if method else None)
        self.key, self.query = key, query
        self.status, self.code, self.seconds, self.after_forward = status, code, seconds, after_forward
        self.fired = 0

    def matches(self, method, path, query):
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.methods and method not in self.methods:
            return False
        if self.key and self.key not in path:
            return False
        if self.query and self.query not in query:
            return False
        return True

    def describe(self):
        return {"kind": self.kind, "remaining": self.remaining, "methods": sorted(self.methods or []),
                "key": self.key, "query": self.query, "status": self.status, "fired": self.fired}


def s3_error_xml(code, message, resource=""):
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{xml_escape(code)}</Code>'
            f"<Message>{xml_escape(message)}</Message><Resource>{xml_escape(resource)}</Resource>"
            f"<RequestId>riffle-s3-proxy</RequestId></Error>").encode()


DEFAULT_CODES = {500: "InternalError", 503: "ServiceUnavailable", 403: "AccessDenied", 404: "NoSuchKey",
                 400: "BadRequest", 507: "InsufficientStorage"}


class S3Proxy:
    """See the module docstring. `credentials` maps access key → secret key. With
    `emulate_if_none_match`, a PUT with `If-None-Match: *` is answered 412 PreconditionFailed
    when the object exists (s3rver ignores the header; real S3 and recent RGW honour it)."""

    def __init__(self, upstream, credentials, region=None, verify_signatures=True, allow_anonymous=False,
                 emulate_if_none_match=True, serialize_deletes=True, host="127.0.0.1", port=0,
                 upstream_timeout=120):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.credentials = dict(credentials)
        self.region = region
        self.verify_signatures = verify_signatures
        self.allow_anonymous = allow_anonymous
        self.emulate_if_none_match = emulate_if_none_match
        # s3rver removes a directory left empty by a DELETE, and crashes when a PUT into that
        # directory is under way: DELETEs are forwarded alone, never beside a PUT or POST.
        self.serialize_deletes = serialize_deletes
        self.mutations = _RWLock()
        self.host, self.port = host, port
        self.upstream_timeout = upstream_timeout
        self.lock = threading.Lock()
        self.put_lock = threading.Lock()  # serialises emulated conditional PUTs
        self.rules = []
        self.is_down = None  # None (up), "503" or "refuse"
        self.released = threading.Event()
        self.server = None
        self.thread = None
        self.connections = set()
        self.reset_counters()

    # -- lifecycle --------------------------------------------------------------------------------
    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    def start(self):
        self._listen()
        return self

    def _listen(self):
        proxy = self

        class Handler(_Handler):
            pass

        Handler.proxy = proxy
        self.server = _Server((self.host, self.port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       name=f"s3-proxy-{self.port}", daemon=True)
        self.thread.start()

    def _unlisten(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        self._close_client_connections()

    def _close_client_connections(self):
        with self.lock:
            conns = list(self.connections)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        self.released.set()
        self._unlisten()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- counters -------------------------------------------------------------------------------
    def reset_counters(self):
        with self.lock:
            self.requests = collections.Counter()  # by method
            self.responses = collections.Counter()  # by status (what the client got; 0 = dropped)
            self.faults = collections.Counter()  # by kind
            self.bad_signatures = 0
            self.bad_payload_hashes = 0
            self.rejected = []  # (method, path, code, message) of every request refused by the verifier
            self.log = []  # {time, method, path, query, status, fault, bytes, signed_headers}
            self.max_connections = len(self.connections)  # most client connections open at once

    def stats(self):
        with self.lock:
            return {"requests": dict(self.requests), "responses": {str(k): v for k, v in self.responses.items()},
                    "faults": dict(self.faults), "bad_signatures": self.bad_signatures,
                    "bad_payload_hashes": self.bad_payload_hashes, "rejected": [list(r[:3]) for r in self.rejected],
                    "rules": [r.describe() for r in self.rules], "down": self.is_down,
                    "max_connections": self.max_connections}

    def requests_matching(self, method=None, key=None):
        """Log entries of requests with `method` whose path contains `key`."""
        with self.lock:
            return [e for e in self.log if (method is None or e["method"] == method.upper())
                    and (key is None or key in e["path"])]

    # -- faults ---------------------------------------------------------------------------------
    def _add(self, rule):
        with self.lock:
            self.rules.append(rule)
        return rule

    def fail_next(self, n=1, status=500, method=None, key=None, query=None, code=None):
        """The next `n` matching requests (None: all until clear()) get `status` with an S3 XML
        error and are not forwarded."""
        return self._add(Rule("fail", n, method, key, query, status, code or DEFAULT_CODES.get(status, "InternalError")))

    def slowdown(self, n=1, method=None, key=None, query=None):
        """503 SlowDown, the throttling answer S3 clients must retry with back-off."""
        return self._add(Rule("slowdown", n, method, key, query, 503, "SlowDown"))

    def stall(self, seconds, n=1, method=None, key=None, query=None, then="forward"):
        """Holds the next `n` matching requests for `seconds` (or until release()), then forwards
        them (`then="forward"`) or closes the connection without an answer (`then="drop"`)."""
        return self._add(Rule("stall", n, method, key, query, seconds=seconds, code=then))

    def drop_connections(self, n=1, method=None, key=None, query=None, after_forward=False):
        """Closes the client's connection without an answer. `after_forward`: the request is
        forwarded first (it takes effect in the store) and only its answer is lost."""
        return self._add(Rule("drop", n, method, key, query, after_forward=after_forward))

    def down(self, mode="503"):
        """Every request fails until up(): 503 ServiceUnavailable (`mode="503"`), or the port
        refuses connections and open ones are closed (`mode="refuse"`)."""
        with self.lock:
            self.is_down = mode
        if mode == "refuse":
            self._unlisten()

    def up(self):
        with self.lock:
            was = self.is_down
            self.is_down = None
        if was == "refuse":
            self._listen()  # the same port

    def release(self):
        """Lets every stalled request go on at once."""
        self.released.set()

    def clear(self):
        """Removes every fault rule, releases stalls and brings the proxy up."""
        with self.lock:
            self.rules = []
        self.release()
        self.up()
        self.released = threading.Event()

    def _match(self, method, path, query, phase):
        with self.lock:
            for rule in self.rules:
                if rule.matches(method, path, query):
                    if phase == "after" and not (rule.kind == "drop" and rule.after_forward):
                        continue
                    if phase == "before" and rule.kind == "drop" and rule.after_forward:
                        continue
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    rule.fired += 1
                    self.faults[rule.kind] += 1
                    return rule
        return None


class _RWLock:
    """Shared/exclusive lock; a waiting exclusive holder keeps new shared ones out."""

    def __init__(self):
        self.cond = threading.Condition()
        self.shared = 0
        self.exclusive = False
        self.waiting = 0

    def acquire(self, exclusive):
        with self.cond:
            if exclusive:
                self.waiting += 1
                while self.exclusive or self.shared:
                    self.cond.wait()
                self.waiting -= 1
                self.exclusive = True
            else:
                while self.exclusive or self.waiting:
                    self.cond.wait()
                self.shared += 1

    def release(self, exclusive):
        with self.cond:
            if exclusive:
                self.exclusive = False
            else:
                self.shared -= 1
            self.cond.notify_all()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        # A client that hangs up (its request timeout, a killed server) is part of the tests.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _Drop(Exception):
    """Close the client connection without an answer."""


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    proxy: S3Proxy = None
    upstream_conn = None

    def log_message(self, fmt, *args):  # quiet
        pass

    def setup(self):
        super().setup()
        with self.proxy.lock:
            self.proxy.connections.add(self.connection)
            self.proxy.max_connections = max(self.proxy.max_connections, len(self.proxy.connections))

    def finish(self):
        try:
            super().finish()
        finally:
            with self.proxy.lock:
                self.proxy.connections.discard(self.connection)
            if self.upstream_conn is not None:
                self.upstream_conn.close()

    def do_GET(self):
        self._handle()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_GET

    # -- request -------------------------------------------------------------------------------
    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _values(self, name):
        return self.headers.get_all(name) or []

    def _handle(self):
        proxy = self.proxy
        raw_path, _, raw_query = self.path.partition("?")
        body = self._read_body()
        if raw_path.startswith(CONTROL_PREFIX):
            return self._control(raw_path[len(CONTROL_PREFIX):], raw_query, body)
        method = self.command.upper()
        path = urllib.parse.unquote(raw_path)
        auth = parse_authorization(self.headers.get("Authorization") or "")
        entry = {"time": time.time(), "method": method, "path": path, "query": raw_query, "status": None,
                 "fault": None, "bytes": len(body), "signed_headers": auth["signed_headers"] if auth else None}
        with proxy.lock:
            proxy.requests[method] += 1
            proxy.log.append(entry)
        try:
            status = self._serve(method, raw_path, raw_query, path, body, entry)
        except _Drop:
            status = 0
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        entry["status"] = status
        with proxy.lock:
            proxy.responses[status] += 1

    def _serve(self, method, raw_path, raw_query, path, body, entry):
        proxy = self.proxy
        if proxy.is_down == "refuse":
            raise _Drop()
        if proxy.verify_signatures:
            try:
                verify(method, raw_path, raw_query, lambda n: self._values(n), body, proxy.credentials,
                       region=proxy.region, now=datetime.datetime.now(datetime.timezone.utc),
                       allow_anonymous=proxy.allow_anonymous)
            except SignatureError as e:
                with proxy.lock:
                    if e.code == "SignatureDoesNotMatch":
                        proxy.bad_signatures += 1
                    if e.code == "XAmzContentSHA256Mismatch":
                        proxy.bad_payload_hashes += 1
                    proxy.rejected.append((method, path, e.code, e.message))
                entry["fault"] = "rejected:" + e.code
                return self._error(e.status, e.code, e.message.split("\n", 1)[0], path)
        if proxy.is_down == "503":
            entry["fault"] = "down"
            with proxy.lock:
                proxy.faults["down"] += 1
            return self._error(503, "ServiceUnavailable", "Service is unable to handle request (down)", path)
        rule = proxy._match(method, path, raw_query, "before")
        if rule is not None:
            entry["fault"] = rule.kind
            if rule.kind in ("fail", "slowdown"):
                msg = "Please reduce your request rate." if rule.kind == "slowdown" else "injected fault"
                return self._error(rule.status, rule.code, msg, path)
            if rule.kind == "drop":
                raise _Drop()
            if rule.kind == "stall":
                proxy.released.wait(rule.seconds)
                if rule.code == "drop":
                    raise _Drop()
        if proxy.is_down is not None:  # went down while this request was stalled
            raise _Drop()
        if (proxy.emulate_if_none_match and method == "PUT" and not raw_query
                and (self.headers.get("If-None-Match") or "").strip() == "*"):
            with proxy.put_lock:
                status, headers, data = self._forward("HEAD", raw_path, "", b"", signed_head=True)
                if status == 200:
                    return self._error(412, "PreconditionFailed",
                                       "At least one of the pre-conditions you specified did not hold", path)
                status, headers, data = self._forward(method, raw_path, raw_query, body)
        else:
            status, headers, data = self._forward(method, raw_path, raw_query, body)
        if proxy._match(method, path, raw_query, "after") is not None:
            entry["fault"] = "drop-after-forward"
            raise _Drop()
        return self._reply(status, headers, data, head=method == "HEAD")

    # -- upstream ------------------------------------------------------------------------------
    def _upstream(self, fresh=False):
        u = self.proxy.upstream
        if fresh or self.upstream_conn is None:
            if self.upstream_conn is not None:
                self.upstream_conn.close()
            self.upstream_conn = http.client.HTTPConnection(u.hostname, u.port or 80,
                                                            timeout=self.proxy.upstream_timeout)
        return self.upstream_conn

    def _forward(self, method, raw_path, raw_query, body, signed_head=False):
        """(status, [(name, value)], body) of the upstream's answer."""
        lock = None
        if self.proxy.serialize_deletes and method in ("DELETE", "PUT", "POST"):
            lock = method == "DELETE"
            self.proxy.mutations.acquire(lock)
        try:
            return self._forward_unlocked(method, raw_path, raw_query, body, signed_head)
        finally:
            if lock is not None:
                self.proxy.mutations.release(lock)

    def _forward_unlocked(self, method, raw_path, raw_query, body, signed_head):
        target = raw_path + (f"?{raw_query}" if raw_query else "")
        if signed_head:  # our own request (conditional PUT emulation), signed with the first key
            key, secret = next(iter(self.proxy.credentials.items()))
            u = self.proxy.upstream
            url = f"{u.scheme}://{self.headers.get('Host')}{target}"
            send = list(sign_headers("HEAD", url, key, secret, self.proxy.region or "us-east-1").items())
        else:
            send = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP
                    and k.lower() != "content-length"]
        for attempt in (0, 1):
            reused = self.upstream_conn is not None
            conn = self._upstream(fresh=attempt > 0)
            try:
                # Host is passed through unchanged: it is signed, and a verifying upstream (RGW)
                # must see what the client signed.
                conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                for k, v in send:
                    conn.putheader(k, v)
                if method not in ("GET", "HEAD", "DELETE") or body:
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body if body else None)
                resp = conn.getresponse()
                data = resp.read()
                headers = resp.getheaders()
                if resp.will_close:
                    conn.close()
                    self.upstream_conn = None
                return resp.status, headers, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                conn.close()
                self.upstream_conn = None
                if attempt == 0 and reused:
                    continue  # a kept-alive connection the upstream had closed
                return 502, [], s3_error_xml("ServiceUnavailable", f"upstream: {e}")
            except OSError as e:
                conn.close()
                self.upstream_conn = None
                return 503, [("Content-Type", "application/xml")], s3_error_xml("ServiceUnavailable", f"upstream: {e}")
        raise AssertionError("unreachable")

    # -- answers -------------------------------------------------------------------------------
    def _reply(self, status, headers, data, head=False):
        try:
            self.send_response_only(status)
            length_sent = False
            for k, v in headers:
                lk = k.lower()
                if lk in HOP_BY_HOP:
                    continue
                if lk == "content-length":
                    if not head:
                        continue
                    length_sent = True
                self.send_header(k, v)
            if not head:
                self.send_header("Content-Length", str(len(data)))
            elif not length_sent:
                self.send_header("Content-Length", "0")
            self.end_headers()
            if not head and data:
                self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True  # the client gave up (its timeout) while we waited
        return status

    def _error(self, status, code, message, resource):
        body = s3_error_xml(code, message, resource)
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", "riffle-s3-proxy")]
        if status == 503:
            headers.append(("Retry-After", "0"))
        return self._reply(status, headers, body, head=self.command == "HEAD")

    def _control(self, op, raw_query, body):
        """POST /__proxy__/fault {kind, n, status, method, key, query, seconds, then, after_forward},
        POST /__proxy__/{down,up,clear,release,reset}, GET /__proxy__/stats."""
        proxy = self.proxy
        try:
            args = json.loads(body) if body else {}
            q = dict(parse_query(raw_query))
            args.update({k: (int(v) if v.isdigit() else v) for k, v in q.items()})
            if op == "stats":
                out = proxy.stats()
            elif op == "fault":
                kind = args.pop("kind")
                n = args.pop("n", 1)
                if kind == "fail":
                    proxy.fail_next(n, **args)
                elif kind == "slowdown":
                    proxy.slowdown(n, **args)
                elif kind == "stall":
                    proxy.stall(float(args.pop("seconds")), n, **args)
                elif kind == "drop":
                    proxy.drop_connections(n, **args)
                else:
                    raise ValueError(f"unknown fault kind {kind!r}")
                out = proxy.stats()
            elif op == "down":
                proxy.down(args.get("mode", "503"))
                out = {"down": args.get("mode", "503")}
            elif op in ("up", "clear", "release"):
                getattr(proxy, op)()
                out = proxy.stats()
            elif op == "reset":
                proxy.reset_counters()
                out = proxy.stats()
            else:
                return self._reply(404, [("Content-Type", "application/json")], b'{"error": "unknown control op"}')
            return self._reply(200, [("Content-Type", "application/json")], json.dumps(out).encode())
        except (ValueError, KeyError, TypeError) as e:
            return self._reply(400, [("Content-Type", "application/json")], json.dumps({"error": str(e)}).encode())


# ---------------------------------------------------------------------------------------------
# Self-test: AWS's published S3 examples (Signature V4 documentation, "Examples: Signature
# Calculations in AWS Signature Version 4"); run `python3 s3_proxy.py --self-test`.

AWS_EXAMPLE_KEY = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
AWS_EXAMPLES = [
    # method, path, query, headers, body, signed headers, expected signature
    ("GET", "/test.txt", "", {"host": "examplebucket.s3.amazonaws.com", "range": "bytes=0-9",
                              "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": "20130524T000000Z"},
     b"", "host;range;x-amz-content-sha256;x-amz-date",
     "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
    ("PUT", "/test$file.text", "", {"host": "examplebucket.s3.amazonaws.com", "date": "Fri, 24 May 2013 00:00:00 GMT",
                                    "x-amz-date": "20130524T000000Z", "x-amz-storage-class": "REDUCED_REDUNDANCY",
                                    "x-amz-content-sha256": hashlib.sha256(b"Welcome to Amazon S3.").hexdigest()},
     b"Welcome to Amazon S3.", "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
     "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
    ("GET", "/", "lifecycle", {"host": "examplebucket.s3.amazonaws.com", "x-amz-date": "20130524T000000Z",
                               "x-amz-content-sha256": EMPTY_SHA256},
     b"", "host;x-amz-content-sha256;x-amz-date", "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
    ("GET", "/", "max-keys=2&prefix=J", {"host": "examplebucket.s3.amazonaws.com", "x-amz-date": "20130524T000000Z",
                                         "x-amz-content-sha256": EMPTY_SHA256},
     b"", "host;x-amz-content-sha256;x-amz-date", "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
]


def self_test():
    key, secret = AWS_EXAMPLE_KEY
    for method, path, query, headers, body, signed, expected in AWS_EXAMPLES:
        h = dict(headers)
        h["authorization"] = (f"{ALGORITHM} Credential={key}/20130524/us-east-1/s3/aws4_request,"
                              f"SignedHeaders={signed},Signature={expected}")
        values = lambda n, h=h: [h[n]] if n in h else []  # noqa: E731
        verify(method, urllib.parse.quote(path), query, values, body, {key: secret}, region="us-east-1")
        try:
            verify(method, urllib.parse.quote(path), query, values, body, {key: secret + "x"}, region="us-east-1")
            raise AssertionError("a wrong secret was accepted")
        except SignatureError as e:
            assert e.code == "SignatureDoesNotMatch", e.code
    print(f"{len(AWS_EXAMPLES)} AWS examples verified")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--upstream", help="the S3 server, e.g. http://127.0.0.1:4568")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--access-key", default="S3RVER")
    ap.add_argument("--secret-key", default="S3RVER")
    ap.add_argument("--region", default=None, help="also require this region in the credential scope")
    ap.add_argument("--no-if-none-match-emulation", action="store_true")
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args(argv)
    if a.self_test:
        self_test()
        return
    if not a.upstream:
        ap.error("--upstream is required")
    proxy = S3Proxy(a.upstream, {a.access_key: a.secret_key}, region=a.region, port=a.port,
                    emulate_if_none_match=not a.no_if_none_match_emulation).start()
    print(f"s3 proxy on {proxy.url} → {a.upstream}; control: {proxy.url}{CONTROL_PREFIX}stats", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        proxy.stop()


if __name__ == "__main__":
    sys.exit(main())
