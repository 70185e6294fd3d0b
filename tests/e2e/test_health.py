"""Health, ping and routing (COMPAT §6, §6.3)."""
import requests


def test_health_answers_ok(server):
    for path in ("/health", "/api/v1/health"):
        r = requests.get(server.url + path, timeout=10)
        assert r.status_code == 200, (path, r.status_code, r.text)
        assert r.text == "OK"
        assert r.headers["Content-Type"].startswith("text/plain")


def test_ping_reports_product_and_version(server):
    for method in ("GET", "POST"):
        r = requests.request(method, server.url + "/ping", timeout=10)
        assert r.status_code == 200, (method, r.text)
        assert r.headers["Content-Type"].startswith("application/json")
        body = r.json()
        assert body["product_name"] == "InfluxDB 3 Core"
        assert isinstance(body["version"], str) and body["version"]


def test_unknown_paths_are_404(server):
    for method, path in [("GET", "/nope"), ("GET", "/api/v3/nope"), ("POST", "/api/v3/write_lp/extra"),
                         ("GET", "/api/v3/write_lp")]:
        r = requests.request(method, server.url + path, timeout=10)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
    # Still serving afterwards.
    assert requests.get(server.url + "/health", timeout=10).status_code == 200
