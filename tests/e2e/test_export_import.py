"""Export and import (issue 19, item 3): `influxdb3 export databases|tables|windows|data` writes a
table's rows as Parquet files, one per UTC day; `influxdb3 import upload` writes Parquet or
line-protocol files into a database, with progress and a summary. An export imported into another
database gives the same rows back, so the files open in DuckDB (the reader the import uses)."""
import pytest

from conftest import Server, duckdb_cell, query_rows, write_lp

DAY = 86_400 * 10**9
START = 1_700_000_000 * 10**9 - (1_700_000_000 * 10**9) % DAY  # 2023-11-14T00:00:00Z


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("export")).start()
    lines = []
    for i in range(3000):  # three days, two tags, every field type
        lines.append(f'cpu,host=h{i % 4},region=r{i % 3} usage={i / 7},count={i}i,big={i}u,ok={str(i % 2 == 0).lower()},'
                     f'note="n {i}, \\"q\\"" {START + i * (DAY // 1000)}')
    assert write_lp(s, "db", "\n".join(lines)).status_code == 204
    assert write_lp(s, "db", f"mem,host=h0 free=1i {START}").status_code == 204
    yield s
    s.kill9()


def all_rows(s, db, table):
    return query_rows(s, db, f'SELECT * FROM "{table}" ORDER BY time, host')


def test_export_lists_and_writes_one_parquet_file_per_day(server, tmp_path):
    assert "db" in server.cli("export", "databases").stdout.split()
    assert server.cli("export", "tables", "-d", "db").stdout.split() == ["cpu", "mem"]
    windows = server.cli("export", "windows", "-d", "db", "-t", "cpu").stdout.splitlines()
    assert windows == ["2023-11-14\t1000 rows", "2023-11-15\t1000 rows", "2023-11-16\t1000 rows"]
    out = server.cli("export", "data", "-d", "db", "-t", "cpu", "--window", "2023-11-15,2023-11-16",
                     "--output-dir", str(tmp_path))
    assert "Exported 2000 rows of 1 tables into 2 Parquet files" in out.stdout, out.stdout
    assert "[2/3] cpu 2023-11-15: 1000 rows" in out.stderr
    files = sorted(p.name for p in (tmp_path / "cpu").iterdir())
    assert files == ["2023-11-15.parquet", "2023-11-16.parquet"]
    for f in (tmp_path / "cpu").iterdir():
        data = f.read_bytes()
        assert data[:4] == b"PAR1" and data[-4:] == b"PAR1"


def test_an_export_imports_back_into_another_database_row_for_row(server, tmp_path):
    server.cli("export", "data", "-d", "db", "--output-dir", str(tmp_path))
    assert sorted(p.name for p in (tmp_path / "cpu").iterdir()) == ["2023-11-14.parquet", "2023-11-15.parquet",
                                                                    "2023-11-16.parquet"]
    # Into a new database: the tags are named, everything else keeps its Parquet type.
    out = server.cli("import", "upload", "-d", "copy", "-t", "cpu", "--column", "host:tag", "--column", "region:tag",
                     str(tmp_path / "cpu"))
    assert "Imported 3000 rows from 3 files" in out.stdout, out.stdout
    assert "[3/3]" in out.stderr
    assert all_rows(server, "copy", "cpu") == all_rows(server, "db", "cpu")
    tags = {r["column_name"]: r["data_type"] for r in query_rows(
        server, "copy", "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'cpu'")}
    assert tags["host"].startswith("Dictionary") and tags["note"] == "Utf8" and tags["big"] == "UInt64"
    # Into the table it came from (its schema says which columns are tags): the same points again,
    # so nothing changes.
    server.cli("import", "upload", "-d", "db", "-t", "mem", str(tmp_path / "mem"))
    assert all_rows(server, "db", "mem") == [{"host": "h0", "free": 1, "time": "2023-11-14T00:00:00"}]


def test_import_takes_line_protocol_and_casts_mapped_columns(server, tmp_path):
    lp = tmp_path / "a.lp"
    lp.write_text("# a comment\n" + "\n".join(f"m,host=a v={i}i {START + i}" for i in range(25_000)) + "\n")
    out = server.cli("import", "upload", "-d", "lp", str(lp))
    assert "Imported 25000 rows from 1 files" in out.stdout, out.stdout
    assert query_rows(server, "lp", "SELECT count(*) AS n, sum(v) AS s FROM m") == [{"n": 25_000, "s": sum(range(25_000))}]
    server.cli("export", "data", "-d", "db", "-t", "cpu", "--window", "2023-11-14", "--output-dir", str(tmp_path / "x"))
    server.cli("import", "upload", "-d", "cast", "-t", "cpu", "--column", "host:tag", "--column", "count:f64",
               "--column", "note:skip", "--column", "region:string", str(tmp_path / "x"))
    row = query_rows(server, "cast", "SELECT * FROM cpu ORDER BY time LIMIT 1")[0]
    assert row["count"] == 0.0 and isinstance(row["count"], float) and "note" not in row and row["region"] == "r0"


def test_import_mistakes_are_clear(server, tmp_path):
    for args, says in ((["-d", "x", str(tmp_path / "missing.parquet")], "no such file or directory"),
                       (["-d", "x", str(tmp_path)], "no .parquet or .lp files"),
                       (["-d", "x", "--column", "a:int", "-t", "t", str(tmp_path)], "no .parquet or .lp files")):
        out = server.cli("import", "upload", *args, check=False)
        assert out.returncode != 0 and says in out.stderr, (args, out.stderr)
    server.cli("export", "data", "-d", "db", "-t", "mem", "--output-dir", str(tmp_path))
    out = server.cli("import", "upload", "-d", "x", str(tmp_path / "mem"), check=False)
    assert out.returncode != 0 and "--table is required" in out.stderr
    out = server.cli("import", "upload", "-d", "x", "-t", "m", "--column", "free:int", str(tmp_path / "mem"), check=False)
    assert out.returncode != 0 and "expected <column>:<tag|time|i64" in out.stderr
    out = server.cli("import", "upload", "-d", "x", "-t", "m", "--column", "time:skip", str(tmp_path / "mem"), check=False)
    assert out.returncode != 0 and "has no time column" in out.stderr
    bad = tmp_path / "bad.lp"
    bad.write_text("m v=\n")
    out = server.cli("import", "upload", "-d", "x", str(bad), check=False)
    assert out.returncode != 0 and "refused a batch" in out.stderr
    out = server.cli("export", "data", "-d", "nodb", "--output-dir", str(tmp_path / "y"), check=False)
    assert out.returncode != 0 and "not found" in out.stderr


def test_time_unit_writes_timestamps_spark_reads(server, tmp_path):
    def time_type(unit):
        out = tmp_path / unit
        server.cli("export", "data", "-d", "db", "-t", "cpu", "--window", "2023-11-14", "--time-unit", unit,
                   "--output-dir", str(out))
        path = out / "cpu" / "2023-11-14.parquet"
        return duckdb_cell(f"SELECT logical_type::VARCHAR || ' / ' || coalesce(converted_type, '-') "
                           f"FROM parquet_schema('{path}') WHERE name = 'time'"), path

    ns, _ = time_type("ns")
    assert "NANOS=NanoSeconds()" in ns and ns.endswith("/ -"), ns
    us, path = time_type("us")
    assert "MICROS=MicroSeconds()" in us and us.endswith("/ TIMESTAMP_MICROS"), us
    ms, _ = time_type("ms")
    assert "MILLIS=MilliSeconds()" in ms and ms.endswith("/ TIMESTAMP_MILLIS"), ms
    # The same instants (the rows' times are whole milliseconds).
    server.cli("import", "upload", "-d", "micros", "-t", "cpu", "--column", "host:tag", "--column", "region:tag",
               str(path))
    assert all_rows(server, "micros", "cpu") == [r for r in all_rows(server, "db", "cpu")
                                                 if r["time"].startswith("2023-11-14")]
    bad = server.cli("export", "data", "-d", "db", "--time-unit", "s", "--output-dir", str(tmp_path), check=False)
    assert bad.returncode != 0 and "--time-unit 's': expected ns, us or ms" in bad.stderr, bad.stderr
