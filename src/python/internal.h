// Internal to the python component: the influxdb3_local object and conversions.
#pragma once

#include <pybind11/embed.h>
#include <pybind11/stl.h>

#include "python/python_runtime.h"

namespace riffle::python {

namespace py = pybind11;

// The `influxdb3_local` object handed to every plugin call. Python owns it: a plugin may keep
// it (say, in a thread of its own) after the run ends, so it holds copies, never pointers into
// the caller's stack, and once Finish() is called it only logs to the server log.
class PluginApi {
 public:
  explicit PluginApi(const CallContext& ctx) : ctx_(ctx) {}
  // Ends the run: returns the queued writes; later calls that would touch the database raise.
  std::vector<WrittenLine> Finish();

  void Log(const char* level, const py::args& args);
  py::object Query(const std::string& sql, const py::object& args, const py::object& database);
  void Write(const py::object& line) { Queue(ctx_.database, line); }
  void WriteToDb(const std::string& db, const py::object& line) { Queue(db, line); }
  void WriteSync(const py::object& line, bool no_sync) { WriteNow(ctx_.database, line, no_sync); }
  void WriteSyncToDb(const std::string& db, const py::object& line, bool no_sync) { WriteNow(db, line, no_sync); }
  const std::string& cache_namespace() const { return ctx_.cache_namespace; }
  const HostServices* host() const { return ctx_.host; }
  const std::shared_ptr<const HostServices>& host_owner() const { return ctx_.host_owner; }
  // A line the plugin printed (stdout → INFO, stderr → WARN).
  void Printed(const std::string& text, bool is_error);

 private:
  void Queue(const std::string& db, const py::object& line);
  void WriteNow(const std::string& db, const py::object& line, bool no_sync);
  void CheckRunning(const char* what) const;

  CallContext ctx_;
  std::vector<WrittenLine> writes_;
  bool finished_ = false;  // guarded by the GIL
};

// The `influxdb3_local.cache` object.
class PluginCache {
 public:
  PluginCache(std::string ns, const HostServices* host, std::shared_ptr<const HostServices> owner)
      : ns_(std::move(ns)), host_(host), owner_(std::move(owner)) {}
  void Put(const std::string& key, py::object value, const py::object& ttl, const py::object& use_global);
  py::object Get(const std::string& key, py::object fallback, const py::object& use_global);
  bool Delete(const std::string& key, const py::object& use_global);

 private:
  std::string ns_;
  const HostServices* host_;  // its cache_* are set in a worker process
  std::shared_ptr<const HostServices> owner_;
};

// The run in progress on this thread (for print()), or null.
PluginApi*& CurrentRun();

// The prelude's namespace (LineBuilder, QueryError, helpers).
py::dict& Prelude();
// Python value for a query result cell (timestamps as integer nanoseconds).
py::object ToPython(const query::Value& v);

}  // namespace riffle::python
