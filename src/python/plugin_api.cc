#include <chrono>
#include <cmath>
#include <limits>
#include <map>

#include "catalog/catalog.h"
#include "common/log.h"
#include "python/internal.h"

namespace riffle::python {

py::object ToPython(const query::Value& v) {
  if (auto* b = std::get_if<bool>(&v)) return py::bool_(*b);
  if (auto* i = std::get_if<int64_t>(&v)) return py::int_(*i);
  if (auto* u = std::get_if<uint64_t>(&v)) return py::int_(*u);
  if (auto* d = std::get_if<double>(&v)) return py::float_(*d);
  if (auto* s = std::get_if<std::string>(&v))
    return py::reinterpret_steal<py::object>(PyUnicode_DecodeUTF8(s->data(), static_cast<Py_ssize_t>(s->size()), "replace"));
  if (auto* t = std::get_if<query::Timestamp>(&v)) return py::int_(t->ns);
  return py::none();
}

namespace {

std::string LineText(const py::object& line) {
  return Prelude()["_riffle_line_text"](line).cast<std::string>();
}

[[noreturn]] void RaiseQueryError(const std::string& message) {
  PyErr_SetString(Prelude()["QueryError"].ptr(), message.c_str());
  throw py::error_already_set();
}

}  // namespace

PluginApi*& CurrentRun() {
  thread_local PluginApi* current = nullptr;
  return current;
}

void PluginApi::Printed(const std::string& text, bool is_error) {
  py::gil_scoped_release release;
  if (ctx_.host && ctx_.host->log) ctx_.host->log(is_error ? "WARN" : "INFO", text);
}

std::vector<WrittenLine> PluginApi::Finish() {
  finished_ = true;
  return std::move(writes_);
}

void PluginApi::CheckRunning(const char* what) const {
  if (finished_)
    throw std::runtime_error(std::string("influxdb3_local.") + what + " was called after the plugin run of trigger '" +
                             ctx_.trigger_name + "' finished");
}

void PluginApi::Log(const char* level, const py::args& args) {
  std::string text;
  for (size_t i = 0; i < args.size(); ++i) {
    if (i) text += " ";
    text += py::str(args[i]).cast<std::string>();
  }
  if (finished_) {
    // The run (and maybe the trigger) is gone; the server log still gets the line.
    log::Info("processing engine: [" + ctx_.trigger_name + "] (after its run) " + level + " " + text);
    return;
  }
  const HostServices* host = ctx_.host;
  py::gil_scoped_release release;
  if (host && host->log) host->log(level, text);
}

py::object PluginApi::Query(const std::string& sql, const py::object& args, const py::object& database) {
  CheckRunning("query");
  std::string db = ctx_.database;
  if (!database.is_none()) {
    db = database.cast<std::string>();
    for (size_t i = 0; i < db.size(); ++i) {
      char c = db[i];
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '/') || db.empty())
        RaiseQueryError("invalid database name provided: database name '" + db +
                        "' contains invalid character, character number " + std::to_string(i) + " is not allowed");
    }
    if (db.empty()) RaiseQueryError("invalid database name provided: database name cannot be empty");
  }
  query::Params params;
  if (!args.is_none()) {
    py::dict d = args.cast<py::dict>();
    for (auto item : d) {
      if (!py::isinstance<py::str>(item.first) || !py::isinstance<py::str>(item.second))
        throw py::type_error("query args must be a dict of str to str");
      params.emplace_back(item.first.cast<std::string>(), item.second.cast<std::string>());
    }
  }
  Result<std::unique_ptr<query::ResultStream>> stream = Status::Internal("no query service");
  {
    py::gil_scoped_release release;
    if (ctx_.host && ctx_.host->query) stream = ctx_.host->query(db, sql, params);
  }
  auto fail = [&](const Status& st) { RaiseQueryError("error: " + st.message() + " executing query on " + db + ": " + sql); };
  if (!stream.ok()) fail(stream.status());
  py::list rows;
  std::vector<py::str> keys;
  for (const auto& n : (*stream)->column_names()) keys.emplace_back(n);
  query::Batch batch;
  for (;;) {
    Result<bool> more = false;
    {
      py::gil_scoped_release release;  // DuckDB produces the next batch while other plugins run
      more = (*stream)->Next(&batch);
    }
    if (!more.ok()) fail(more.status());
    if (!*more) break;
    for (size_t r = 0; r < batch.rows; ++r) {
      py::dict d;
      for (size_t c = 0; c < keys.size(); ++c) d[keys[c]] = ToPython(batch.at(r, c));
      rows.append(std::move(d));
    }
  }
  return std::move(rows);
}

void PluginApi::Queue(const std::string& db, const py::object& line) {
  CheckRunning("write");
  writes_.push_back({db, LineText(line), false, false});
}

void PluginApi::WriteNow(const std::string& db, const py::object& line, bool no_sync) {
  CheckRunning("write_sync");
  std::string text = LineText(line);
  if (ctx_.dry_run) {
    writes_.push_back({db, std::move(text), true, no_sync});
    return;
  }
  Status st = catalog::ValidateDatabaseName(db);
  if (st.ok()) {
    py::gil_scoped_release release;
    st = ctx_.host && ctx_.host->write_sync ? ctx_.host->write_sync(db, text, no_sync)
                                            : Status::Internal("no write service");
  }
  if (!st.ok()) throw std::runtime_error("error writing line protocol to " + db + ": " + st.message());
}

// Cache entries hold Python objects, so every access happens with the GIL held.
namespace {

struct CacheEntry {
  py::object value;
  double expires_at = std::numeric_limits<double>::infinity();
};
std::map<std::string, std::map<std::string, CacheEntry>>& Caches() {
  static auto* caches = new std::map<std::string, std::map<std::string, CacheEntry>>();
  return *caches;
}
double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
const std::string kGlobalNamespace = "\x01global";
bool IsGlobal(const py::object& use_global) {
  return !use_global.is_none() && use_global.cast<bool>();
}

std::map<std::string, CacheEntry>& Namespace(const std::string& ns, const py::object& use_global) {
  return Caches()[IsGlobal(use_global) ? kGlobalNamespace : ns];
}

}  // namespace

void PluginCache::Put(const std::string& key, py::object value, const py::object& ttl, const py::object& use_global) {
  double seconds = -1;
  if (!ttl.is_none()) {
    seconds = ttl.cast<double>();
    if (std::isnan(seconds) || seconds < 0 || seconds > 1e12)
      throw py::value_error("ttl must be a non-negative number of seconds");
  }
  if (IsGlobal(use_global) && host_ && host_->cache_put) {
    // In a worker process the global cache is the server's, shared with every other trigger's
    // worker: the value travels pickled. The trigger's own cache stays here, live objects.
    std::string pickled = py::module_::import("pickle").attr("dumps")(value).cast<std::string>();
    py::gil_scoped_release release;
    host_->cache_put(key, std::move(pickled), seconds);
    return;
  }
  CacheEntry entry{std::move(value)};
  if (seconds >= 0) entry.expires_at = NowSeconds() + seconds;
  Namespace(ns_, use_global)[key] = std::move(entry);
}

py::object PluginCache::Get(const std::string& key, py::object fallback, const py::object& use_global) {
  if (IsGlobal(use_global) && host_ && host_->cache_get) {
    std::optional<std::string> pickled;
    {
      py::gil_scoped_release release;
      pickled = host_->cache_get(key);
    }
    if (!pickled) return fallback;
    return py::module_::import("pickle").attr("loads")(py::bytes(*pickled));
  }
  auto& space = Namespace(ns_, use_global);
  auto it = space.find(key);
  if (it == space.end()) return fallback;
  if (it->second.expires_at <= NowSeconds()) {
    space.erase(it);
    return fallback;
  }
  return it->second.value;
}

bool PluginCache::Delete(const std::string& key, const py::object& use_global) {
  if (IsGlobal(use_global) && host_ && host_->cache_delete) {
    py::gil_scoped_release release;
    return host_->cache_delete(key);
  }
  return Namespace(ns_, use_global).erase(key) > 0;
}

void DropCacheNamespace(const std::string& ns) {
  if (!IsInitialized()) return;
  py::gil_scoped_acquire gil;
  Caches().erase(ns);
}

}  // namespace riffle::python

PYBIND11_EMBEDDED_MODULE(_riffle_engine, m) {
  using riffle::python::PluginApi;
  using riffle::python::PluginCache;
  namespace py = pybind11;
  m.def("emit", [](const std::string& text, bool is_error) {
    if (PluginApi* run = riffle::python::CurrentRun()) return run->Printed(text, is_error);
    riffle::log::Write(is_error ? riffle::log::Level::kWarn : riffle::log::Level::kInfo, "python: " + text);
  });
  py::class_<PluginCache>(m, "Cache")
      .def("put", &PluginCache::Put, py::arg("key"), py::arg("value"), py::arg("ttl") = py::none(),
           py::arg("use_global") = py::none())
      .def("get", &PluginCache::Get, py::arg("key"), py::arg("default") = py::none(),
           py::arg("use_global") = py::none())
      .def("delete", &PluginCache::Delete, py::arg("key"), py::arg("use_global") = py::none());
  py::class_<PluginApi>(m, "PluginApi")
      .def("info", [](PluginApi& a, py::args args) { a.Log("INFO", args); })
      .def("warn", [](PluginApi& a, py::args args) { a.Log("WARN", args); })
      .def("error", [](PluginApi& a, py::args args) { a.Log("ERROR", args); })
      .def("query", &PluginApi::Query, py::arg("query"), py::arg("args") = py::none(),
           py::arg("database") = py::none())
      .def("write", &PluginApi::Write, py::arg("line"))
      .def("write_to_db", &PluginApi::WriteToDb, py::arg("db_name"), py::arg("line"))
      .def("write_sync", &PluginApi::WriteSync, py::arg("line"), py::arg("no_sync"))
      .def("write_sync_to_db", &PluginApi::WriteSyncToDb, py::arg("db_name"), py::arg("line"),
           py::arg("no_sync"))
      .def_property_readonly("cache", [](PluginApi& a) {
        return PluginCache(a.cache_namespace(), a.host(), a.host_owner());
      });
}
