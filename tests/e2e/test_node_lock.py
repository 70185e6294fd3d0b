"""One serve process per node and data directory (app/node_lock.h): a second `influxdb3 serve`
with the same --node-id on the same --data-dir would replay and delete the first one's WAL files,
so it refuses to start and names the process that runs; the first goes on serving every row it
acknowledged, and once it is gone (kill -9 included) the node starts again at once."""
import pytest

from conftest import Server, query_rows, write_lp


def test_a_second_server_of_the_node_refuses_to_start_and_the_first_keeps_its_rows(tmp_path):
    first = Server(tmp_path).start()
    second = Server(tmp_path)
    second.log_path = tmp_path / "second.log"
    second.s3, second.bucket = first.s3, first.bucket  # the same store when run against S3
    try:
        assert write_lp(first, "db", "cpu,host=a v=1i 1\ncpu,host=b v=2i 2").status_code == 204
        with pytest.raises(AssertionError):
            second.start()
        log = second.log()
        assert "another influxdb3 serve" in log, log
        assert f"(pid {first.proc.pid})" in log and "--node-id node0" in log, log
        assert write_lp(first, "db", "cpu,host=c v=3i 3").status_code == 204
        assert query_rows(first, "db", "SELECT count(*) AS n, sum(v) AS s FROM cpu") == [{"n": 3, "s": 6}]
        first.kill9()  # the kernel releases the lock with the process
        second.start()
        assert query_rows(second, "db", "SELECT count(*) AS n, sum(v) AS s FROM cpu") == [{"n": 3, "s": 6}]
    finally:
        first.kill9()
        second.kill9()
