// Internal to the python component: the influxdb3_local object and conversions.
#pragma once

#include <pybind11/embed.h>
#include <pybind11/stl.h>

#include "python/python_runtime.h"

namespace riffle::python {

namespace py = pybind11;

// The `influxdb3_local` object handed to every plugin call.
class PluginApi {
 public:
  PluginApi(const CallContext* ctx, std::vector<WrittenLine>* writes) : ctx_(ctx), writes_(writes) {}

  void Log(const char* level, const py::args& args);
  py::object Query(const std::string& sql, const py::object& args, const py::object& database);
  void Write(const py::object& line) { Queue(ctx_->database, line); }
  void WriteToDb(const std::string& db, const py::object& line) { Queue(db, line); }
  void WriteSync(const py::object& line, bool no_sync) { WriteNow(ctx_->database, line, no_sync); }
  void WriteSyncToDb(const std::string& db, const py::object& line, bool no_sync) { WriteNow(db, line, no_sync); }
  const std::string& cache_namespace() const { return ctx_->cache_namespace; }

 private:
  void Queue(const std::string& db, const py::object& line);
  void WriteNow(const std::string& db, const py::object& line, bool no_sync);

  const CallContext* ctx_;
  std::vector<WrittenLine>* writes_;
};

// The `influxdb3_local.cache` object.
class PluginCache {
 public:
  explicit PluginCache(std::string ns) : ns_(std::move(ns)) {}
  void Put(const std::string& key, py::object value, const py::object& ttl, const py::object& use_global);
  py::object Get(const std::string& key, py::object fallback, const py::object& use_global);
  bool Delete(const std::string& key, const py::object& use_global);

 private:
  std::string ns_;
};

// The prelude's namespace (LineBuilder, QueryError, helpers).
py::dict& Prelude();
// Python value for a query result cell (timestamps as integer nanoseconds).
py::object ToPython(const query::Value& v);

}  // namespace riffle::python
