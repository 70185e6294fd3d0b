# Riffle's Python prelude: run once when the interpreter starts. It defines LineBuilder (made a
# builtin, as InfluxDB 3 does), the plugin exception classes, and helpers the C++ side calls.
import builtins as _builtins
import json as _json


class InfluxDBError(Exception):
    """Base class for errors raised by the processing-engine API."""


class InvalidMeasurementError(InfluxDBError):
    pass


class InvalidKeyError(InfluxDBError):
    pass


class InvalidLineError(InfluxDBError):
    pass


class QueryError(Exception):
    pass


class LineBuilder:
    def __init__(self, measurement):
        if " " in measurement:
            raise InvalidMeasurementError("Measurement name cannot contain spaces")
        self.measurement = measurement
        self.tags = {}
        self.fields = {}
        self._timestamp_ns = None

    def _validate_key(self, key, kind):
        if not key:
            raise InvalidKeyError(f"{kind} key cannot be empty")
        if " " in key:
            raise InvalidKeyError(f"{kind} key '{key}' cannot contain spaces")
        if "," in key:
            raise InvalidKeyError(f"{kind} key '{key}' cannot contain commas")
        if "=" in key:
            raise InvalidKeyError(f"{kind} key '{key}' cannot contain equals signs")

    def tag(self, key, value):
        self._validate_key(key, "tag")
        self.tags[key] = str(value)
        return self

    def uint64_field(self, key, value):
        self._validate_key(key, "field")
        if value < 0:
            raise ValueError(f"uint64 field '{key}' cannot be negative")
        self.fields[key] = f"{value}u"
        return self

    def int64_field(self, key, value):
        self._validate_key(key, "field")
        self.fields[key] = f"{value}i"
        return self

    def float64_field(self, key, value):
        self._validate_key(key, "field")
        self.fields[key] = f"{int(value)}.0" if value % 1 == 0 else str(value)
        return self

    def string_field(self, key, value):
        self._validate_key(key, "field")
        escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
        self.fields[key] = f'"{escaped}"'
        return self

    def bool_field(self, key, value):
        self._validate_key(key, "field")
        self.fields[key] = "t" if value else "f"
        return self

    def time_ns(self, timestamp_ns):
        self._timestamp_ns = timestamp_ns
        return self

    @staticmethod
    def _escape_measurement(s):
        return s.replace(",", "\\,").replace(" ", "\\ ")

    @staticmethod
    def _escape_tag(s):
        return s.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")

    def build(self):
        line = self._escape_measurement(self.measurement)
        for k, v in self.tags.items():
            line += f",{k}={self._escape_tag(v)}"
        if not self.fields:
            raise InvalidLineError(f"At least one field is required: {line}")
        line += " " + ",".join(f"{self._escape_tag(k)}={v}" for k, v in self.fields.items())
        if self._timestamp_ns is not None:
            line += f" {self._timestamp_ns}"
        return line


class _RiffleTableBatch(dict):
    """One table's rows in process_writes: a dict ({"table_name", "rows"}) that also answers
    batch.table_name and batch.rows, as some published plugins read it."""
    __slots__ = ()

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _riffle_line_text(line):
    """What the write methods accept: an object with build(), or a str."""
    if isinstance(line, str):
        return line
    build = getattr(line, "build", None)
    if build is None:
        raise TypeError(f"expected a LineBuilder (an object with build()), got {type(line).__name__}")
    text = build()
    if not isinstance(text, str):
        raise TypeError(f"build() must return str, got {type(text).__name__}")
    return text


def _riffle_response_part(part):
    if isinstance(part, str):
        return part, "text/html"
    if isinstance(part, (dict, list)):
        return _json.dumps(part), "application/json"
    return str(part), "text/plain"


def _riffle_convert_response(result):
    """process_request's return value → (status, body, headers), as InfluxDB 3 converts it."""
    flask = getattr(result, "__flask_response__", None)
    if callable(flask) and flask():
        data = result.get_data()
        if isinstance(data, bytes):
            data = data.decode("utf-8", "replace")
        return int(result.status_code), str(data), {str(k): str(v) for k, v in dict(result.headers).items()}
    if isinstance(result, tuple) and 1 <= len(result) <= 3:
        body, content_type = _riffle_response_part(result[0])
        status, headers = 200, {"Content-Type": content_type}
        if len(result) >= 2:
            if isinstance(result[1], int) and not isinstance(result[1], bool):
                status = result[1]
            elif isinstance(result[1], dict):
                headers.update({str(k): str(v) for k, v in result[1].items()})
        if len(result) == 3:
            if not isinstance(result[2], dict):
                raise TypeError("expected a dictionary in header item")
            headers.update({str(k): str(v) for k, v in result[2].items()})
        if not (100 <= status <= 999):
            status = 500
        return status, body, headers
    if isinstance(result, str):
        return 200, result, {"Content-Type": "text/html"}
    if isinstance(result, (dict, list)):
        return 200, _json.dumps(result), {"Content-Type": "application/json"}
    if hasattr(result, "__iter__") and not isinstance(result, (bytes, bytearray)):
        out = []
        for item in result:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, (bytes, bytearray)):
                try:
                    out.append(bytes(item).decode("utf-8"))
                except UnicodeDecodeError:
                    pass
        return 200, "".join(out), {"Content-Type": "text/html"}
    raise TypeError("Unsupported return type from Python function")


_builtins.LineBuilder = LineBuilder
for _cls in (InfluxDBError, InvalidMeasurementError, InvalidKeyError, InvalidLineError):
    setattr(_builtins, _cls.__name__, _cls)


class _RiffleStream:
    """sys.stdout / sys.stderr for plugins: each printed line becomes a log row of the trigger
    whose run is printing (INFO for stdout, WARN for stderr); elsewhere it goes to the server log."""

    def __init__(self, is_error):
        import threading
        self._is_error = is_error
        self._local = threading.local()

    def write(self, text):
        import _riffle_engine
        buffered = getattr(self._local, "buffer", "") + str(text)
        *lines, rest = buffered.split("\n")
        for line in lines:
            _riffle_engine.emit(line, self._is_error)
        self._local.buffer = rest
        return len(text)

    def flush(self):
        import _riffle_engine
        buffered = getattr(self._local, "buffer", "")
        if buffered:
            self._local.buffer = ""
            _riffle_engine.emit(buffered, self._is_error)

    def isatty(self):
        return False

    def writable(self):
        return True


import sys as _sys

_sys.stdout = _RiffleStream(False)
_sys.stderr = _RiffleStream(True)
