"""The S3 test harness itself (no Riffle): s3_proxy's SigV4 verifier against AWS's published
examples and against `curl --aws-sigv4` (the libcurl Riffle signs with), and each injected
fault, on the session's S3 server (s3rver, or RIFFLE_TEST_S3_ENDPOINT's)."""
import hashlib
import json
import re
import shutil
import subprocess
import threading
import time

import pytest
import requests

import s3_proxy
from conftest import new_bucket, wait_for

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")


@pytest.fixture
def proxy(s3_server):
    p = s3_server.proxy(region=s3_server.region)
    yield p
    p.stop()


@pytest.fixture
def bucket(s3_server):
    return new_bucket(s3_server.client(), "proxy")


def curl(proxy, s3_server, method, path, body=None, secret=None, headers=(), sha=None, timeout=60):
    """(status, body) of `curl --aws-sigv4` through the proxy; `path` is sent as given."""
    data = body if body is not None else b""
    args = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--max-time", str(timeout),
            "--aws-sigv4", f"aws:amz:{s3_server.region}:s3",
            "-u", f"{s3_server.access_key}:{secret or s3_server.secret_key}",
            "-H", f"x-amz-content-sha256: {sha or hashlib.sha256(data).hexdigest()}"]
    for h in headers:
        args += ["-H", h]
    if method == "HEAD":
        args += ["-I"]
    else:
        args += ["-X", method]
    if body is not None:
        args += ["--data-binary", "@-"]
    out = subprocess.run(args + [proxy.url + path], input=data, capture_output=True, timeout=timeout + 10).stdout
    text, _, code = out.rpartition(b"\n")
    return int(code), text


def test_the_verifier_accepts_awss_published_examples():
    s3_proxy.self_test()


def test_curl_signed_requests_verify_and_a_wrong_secret_does_not(proxy, s3_server, bucket):
    keys = ["node0/wal/00000000001.wal", "node0/catalog/00000000000000000001.json",
            "node0/dbs/1/2/2023-11-14/22-16/0000000001.parquet",
            "odd/a b+c=d@e$f&g,h:i;j!k'l(m)n*o~p_q-r.s", "odd/été/ünï.txt"]
    for key in keys:
        # Keys percent-encoded with S3's rules (everything but A-Za-z0-9-_.~ and '/'), as Riffle does.
        path = f"/{bucket}/" + s3_proxy.uri_encode(key, encode_slash=False)
        assert curl(proxy, s3_server, "PUT", path, key.encode())[0] == 200, key
        status, body = curl(proxy, s3_server, "GET", path)
        assert (status, body) == (200, key.encode()), key
        assert curl(proxy, s3_server, "HEAD", path)[0] == 200
    # ListObjectsV2 with the query in canonical form (sorted, '/' as %2F), as Riffle sends it.
    status, body = curl(proxy, s3_server, "GET", f"/{bucket}?list-type=2&prefix=node0%2Fwal%2F")
    assert status == 200 and b"<Key>node0/wal/00000000001.wal</Key>" in body, body
    # A truncated listing (what `serve` sends to check the bucket at start) and its next pages.
    status, body = curl(proxy, s3_server, "GET", f"/{bucket}?list-type=2&max-keys=1")
    assert status == 200 and b"<IsTruncated>true</IsTruncated>" in body and b"NextContinuationToken" in body, body
    paged = s3_proxy.S3Client(proxy.url, s3_server.access_key, s3_server.secret_key, s3_server.region)
    assert paged.list_keys(bucket, max_keys=2) == sorted(keys)
    assert s3_server.client().list_keys(bucket) == sorted(keys)
    assert proxy.bad_signatures == 0 and proxy.rejected == []
    # A wrong secret is refused, and counted.
    status, body = curl(proxy, s3_server, "PUT", f"/{bucket}/x", b"abc", secret="WRONG" + s3_server.secret_key)
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body, body
    assert proxy.bad_signatures == 1
    # So is a body that does not match its x-amz-content-sha256 (the signature itself is fine).
    status, body = curl(proxy, s3_server, "PUT", f"/{bucket}/y", b"abc", sha=hashlib.sha256(b"abd").hexdigest())
    assert status == 400 and b"XAmzContentSHA256Mismatch" in body, body
    assert proxy.bad_payload_hashes == 1
    assert curl(proxy, s3_server, "PUT", f"/{bucket}/z", b"abc", sha="UNSIGNED-PAYLOAD")[0] == 200
    assert s3_server.client().head_object(bucket, "x") is None


def test_libcurl_788_signs_the_query_and_path_as_given(proxy, s3_server, bucket):
    """What the S3 store has to do itself with Debian 12's libcurl 7.88: it signs the query
    string and the path exactly as they are in the URL, so they must already be canonical
    (parameters sorted, values encoded with '/' as %2F, `uploads=` with its '='; keys encoded).
    A real S3 server (and this proxy) computes the canonical form and refuses the others."""
    bad = [f"/{bucket}?list-type=2&prefix=node0/wal/", f"/{bucket}?prefix=node0%2F&list-type=2",
           f"/{bucket}/k?uploads", f"/{bucket}/a+b=c"]
    for path in bad:
        method = "POST" if "uploads" in path else ("PUT" if path.endswith("c") else "GET")
        status, body = curl(proxy, s3_server, method, path, b"" if method != "GET" else None)
        if status == 200:
            pytest.skip("this curl canonicalises requests itself (curl >= 8)")
        assert status == 403 and b"SignatureDoesNotMatch" in body, (path, body)
    assert curl(proxy, s3_server, "POST", f"/{bucket}/k?uploads=", b"")[0] == 200


def test_multipart_upload_through_the_proxy(proxy, s3_server, bucket):
    status, body = curl(proxy, s3_server, "POST", f"/{bucket}/big/obj?uploads=", b"")
    upload = re.search(rb"<UploadId>(.*?)</UploadId>", body).group(1).decode()
    parts = [bytes([i]) * (5 * 1024 * 1024 + 1) if i == 1 else b"tail" for i in (1, 2)]  # > 1 MiB: Expect: 100-continue
    for n, part in enumerate(parts, 1):
        status, _ = curl(proxy, s3_server, "PUT", f"/{bucket}/big/obj?partNumber={n}&uploadId={upload}", part)
        assert status == 200
    xml = "<CompleteMultipartUpload>" + "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>\"{hashlib.md5(p).hexdigest()}\"</ETag></Part>"
        for n, p in enumerate(parts, 1)) + "</CompleteMultipartUpload>"
    status, body = curl(proxy, s3_server, "POST", f"/{bucket}/big/obj?uploadId={upload}", xml.encode())
    assert status == 200 and b"<Error>" not in body, body
    assert s3_server.client().get_object(bucket, "big/obj") == b"".join(parts)
    assert proxy.rejected == []


def test_keep_alive_and_if_none_match(proxy, s3_server, bucket):
    client = s3_server.client()
    client.put_object(bucket, "a", b"1")
    # Two requests on one connection (curl reuses it) both verify.
    sha = hashlib.sha256(b"").hexdigest()
    r = subprocess.run(["curl", "-sv", "-o", "/dev/null", "-o", "/dev/null", "--aws-sigv4",
                        f"aws:amz:{s3_server.region}:s3", "-u", f"{s3_server.access_key}:{s3_server.secret_key}",
                        "-H", f"x-amz-content-sha256: {sha}", f"{proxy.url}/{bucket}/a", f"{proxy.url}/{bucket}/a"],
                       capture_output=True, text=True, timeout=60)
    assert "Re-using existing connection" in r.stderr and proxy.requests["GET"] == 2 and proxy.rejected == []
    assert curl(proxy, s3_server, "PUT", f"/{bucket}/a", b"2", headers=["If-None-Match: *"])[0] == 412
    assert curl(proxy, s3_server, "PUT", f"/{bucket}/b", b"2", headers=["If-None-Match: *"])[0] == 200
    assert client.get_object(bucket, "a") == b"1"


def test_faults(proxy, s3_server, bucket):
    client = s3_proxy.S3Client(proxy.url, s3_server.access_key, s3_server.secret_key, s3_server.region)
    direct = s3_server.client()
    # fail_next with a filter: only PUTs under /wal/.
    proxy.fail_next(2, status=500, method="PUT", key="/wal/")
    with pytest.raises(s3_proxy.S3Error) as e:
        client.put_object(bucket, "node0/wal/1.wal", b"x")
    assert e.value.status == 500 and b"<Code>InternalError</Code>" in e.value.body
    client.put_object(bucket, "node0/catalog/1.json", b"c")  # not matched
    assert client.get_object(bucket, "node0/catalog/1.json") == b"c"
    with pytest.raises(s3_proxy.S3Error):
        client.put_object(bucket, "node0/wal/1.wal", b"x")
    client.put_object(bucket, "node0/wal/1.wal", b"x")  # the rule is used up
    assert proxy.faults["fail"] == 2
    # SlowDown.
    proxy.slowdown(1)
    with pytest.raises(s3_proxy.S3Error) as e:
        client.get_object(bucket, "node0/wal/1.wal")
    assert e.value.status == 503 and b"<Code>SlowDown</Code>" in e.value.body
    # A dropped connection: no answer at all; after_forward: the PUT is applied, the answer lost.
    proxy.drop_connections(1)
    with pytest.raises((ConnectionError, OSError)):
        client.get_object(bucket, "node0/wal/1.wal")
    proxy.drop_connections(1, method="PUT", after_forward=True)
    with pytest.raises((ConnectionError, OSError)):
        client.put_object(bucket, "landed", b"yes")
    assert direct.get_object(bucket, "landed") == b"yes"
    # A stall holds the request (then forwards it); release() lets it go at once.
    proxy.stall(30, method="GET")
    done = []
    t = threading.Thread(target=lambda: done.append(client.get_object(bucket, "landed")))
    t.start()
    assert wait_for(lambda: proxy.faults["stall"] == 1)
    time.sleep(0.3)
    assert not done
    proxy.release()
    t.join(30)
    assert done == [b"yes"]
    # A stall that ends with a dropped connection instead of forwarding.
    proxy.clear()
    proxy.stall(1, then="drop")
    with pytest.raises((ConnectionError, OSError)):
        client.get_object(bucket, "landed")
    # down(): 503 for everything, then connection refused, then up again on the same port.
    proxy.down()
    with pytest.raises(s3_proxy.S3Error) as e:
        client.get_object(bucket, "landed")
    assert e.value.status == 503
    proxy.down("refuse")
    with pytest.raises(ConnectionRefusedError):
        client.get_object(bucket, "landed")
    proxy.up()
    assert client.get_object(bucket, "landed") == b"yes"
    stats = proxy.stats()
    assert stats["bad_signatures"] == 0 and stats["requests"]["PUT"] >= 5


def test_control_endpoint(proxy, s3_server, bucket):
    client = s3_proxy.S3Client(proxy.url, s3_server.access_key, s3_server.secret_key, s3_server.region)
    r = requests.post(proxy.url + "/__proxy__/fault", json={"kind": "fail", "n": 1, "status": 503, "method": "GET"})
    assert r.status_code == 200 and r.json()["rules"][0]["status"] == 503
    with pytest.raises(s3_proxy.S3Error) as e:
        client.list_keys(bucket)
    assert e.value.status == 503
    assert client.list_keys(bucket) == []
    assert requests.post(proxy.url + "/__proxy__/down", timeout=10).status_code == 200
    with pytest.raises(s3_proxy.S3Error):
        client.list_keys(bucket)
    assert requests.post(proxy.url + "/__proxy__/up", timeout=10).status_code == 200
    stats = requests.get(proxy.url + "/__proxy__/stats", timeout=10).json()
    assert stats["requests"]["GET"] == 3 and stats["faults"] == {"fail": 1, "down": 1}
    assert json.loads(json.dumps(stats))["bad_signatures"] == 0
