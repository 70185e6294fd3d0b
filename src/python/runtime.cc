// Interpreter start-up, plugin code loading and the three entry-point calls.
#include <atomic>
#include <map>
#include <mutex>

#include "python/internal.h"
#include "python/prelude.h"

namespace riffle::python {
namespace {

std::atomic<bool> g_initialized{false};
py::dict* g_prelude = nullptr;

struct CompiledPlugin {
  int64_t version;
  py::object code;
};
std::map<std::string, CompiledPlugin>& CodeCache() {
  static auto* cache = new std::map<std::string, CompiledPlugin>();
  return *cache;
}

// "<ExcType>: message" plus the formatted traceback of the current Python error.
void CaptureError(py::error_already_set& e, CallOutcome* out) {
  std::string type_name = "Exception";
  try {
    type_name = py::str(e.type().attr("__name__")).cast<std::string>();
  } catch (...) {
  }
  std::string message;
  try {
    message = py::str(e.value()).cast<std::string>();
  } catch (...) {
  }
  out->status = Status::InvalidArgument(message.empty() ? type_name : type_name + ": " + message);
  try {
    py::object fmt = py::module_::import("traceback").attr("format_exception");
    py::list lines = fmt(e.type(), e.value(), e.trace());
    for (auto l : lines) out->traceback += l.cast<std::string>();
  } catch (...) {
  }
}

// Resolves the entry point, executing single-file plugins afresh in an empty namespace.
py::object LoadFunction(const PluginCode& code, const char* name, const char* signature) {
  py::object fn;
  if (!code.package.empty()) {
    py::module_ sys = py::module_::import("sys");
    py::list path = sys.attr("path");
    path.insert(0, py::str(code.package_dir));
    py::object module;
    try {
      // A package whose files changed since it was imported is imported afresh.
      static std::map<std::string, int64_t> imported;  // package dir/name → version (GIL held)
      std::string key = code.package_dir + "/" + code.package;
      auto seen = imported.find(key);
      if (seen != imported.end() && seen->second != code.version) {
        py::dict modules = sys.attr("modules");
        std::vector<std::string> stale;
        for (auto item : modules) {
          std::string name = py::str(item.first);
          if (name == code.package || name.rfind(code.package + ".", 0) == 0) stale.push_back(name);
        }
        for (const auto& name : stale) modules.attr("pop")(name, py::none());
        py::module_::import("importlib").attr("invalidate_caches")();
      }
      imported[key] = code.version;
      module = py::module_::import("importlib").attr("import_module")(code.package);
    } catch (py::error_already_set& e) {
      path.attr("remove")(py::str(code.package_dir));
      std::string msg = py::str(e.value()).cast<std::string>();
      std::string type = py::str(e.type().attr("__name__")).cast<std::string>();
      throw std::runtime_error(
          "Failed to import plugin module '" + code.package + "': " + type + ": " + msg +
          "\nHint: Check for syntax errors or missing dependencies in Python files.");
    }
    path.attr("remove")(py::str(code.package_dir));
    if (py::hasattr(module, name)) fn = module.attr(name);
  } else {
    auto& cache = CodeCache();
    auto it = cache.find(code.filename);
    if (it == cache.end() || it->second.version != code.version) {
      py::object compiled =
          py::module_::import("builtins").attr("compile")(code.source, code.filename, "exec");
      cache[code.filename] = {code.version, compiled};
      it = cache.find(code.filename);
    }
    py::dict globals;
    globals["__builtins__"] = py::module_::import("builtins");
    // Plugins find files next to themselves through __file__; __name__ is not "__main__", so a
    // plugin's own `if __name__ == "__main__":` test code does not run inside the server.
    if (!code.path.empty()) globals["__file__"] = code.path;
    std::string stem = code.filename.substr(code.filename.rfind('/') + 1);
    globals["__name__"] = stem.substr(0, stem.rfind('.'));
    py::module_::import("builtins").attr("exec")(it->second.code, globals);
    if (globals.contains(name)) fn = globals[name];
  }
  if (!fn || fn.is_none())
    throw std::runtime_error(
        std::string("the ") + name +
        " function is not present in the plugin. Should be defined as: " + signature);
  return fn;
}

py::object ArgsObject(const CallContext& ctx) {
  if (!ctx.args) return py::none();
  py::dict d;
  for (const auto& [k, v] : *ctx.args) d[py::str(k)] = py::str(v);
  return std::move(d);
}

template <typename Body>
CallOutcome Run(const CallContext& ctx, Body body) {
  CallOutcome out;
  if (!g_initialized) {
    out.status = Status::Unavailable(
        "the processing engine is not running: start the server with --plugin-dir");
    return out;
  }
  py::gil_scoped_acquire gil;
  auto* api = new PluginApi(ctx);
  py::object api_object = py::cast(api, py::return_value_policy::take_ownership);
  // print() inside the run lands in this trigger's log rows.
  struct CurrentRunScope {
    PluginApi* previous;
    explicit CurrentRunScope(PluginApi* api) : previous(CurrentRun()) { CurrentRun() = api; }
    ~CurrentRunScope() {
      try {
        py::module_ sys = py::module_::import("sys");
        sys.attr("stdout").attr("flush")();
        sys.attr("stderr").attr("flush")();
      } catch (py::error_already_set&) {
      }
      CurrentRun() = previous;
    }
  } scope(api);
  try {
    body(api_object, out);
    out.writes = api->Finish();
  } catch (py::error_already_set& e) {
    CaptureError(e, &out);
    api->Finish();
  } catch (const std::exception& e) {
    out.status = Status::InvalidArgument(e.what());
    api->Finish();
  }
  return out;
}

}  // namespace

py::dict& Prelude() { return *g_prelude; }

Status Initialize(const std::vector<std::string>& site_packages) {
  if (g_initialized) return Status::Ok();
  try {
    // Python must not install its own SIGINT handler: the server owns its signals.
    py::initialize_interpreter(/*init_signal_handlers=*/false);
    py::module_ sys = py::module_::import("sys");
    py::list path = sys.attr("path");
    for (const auto& p : site_packages) path.insert(0, py::str(p));
    py::module_ main = py::module_::import("__main__");
    g_prelude = new py::dict(main.attr("__dict__"));
    py::exec(kPreludeSource, *g_prelude);
    py::module_::import("_riffle_engine");
  } catch (py::error_already_set& e) {
    return Status::Internal(std::string("cannot start the Python interpreter: ") + e.what());
  }
  PyEval_SaveThread();  // release the GIL; worker threads take it per call
  g_initialized = true;
  return Status::Ok();
}

bool IsInitialized() { return g_initialized; }

ThreadScope::ThreadScope() {
  gil_state_ = static_cast<int>(PyGILState_Ensure());
  saved_ = PyEval_SaveThread();
}

ThreadScope::~ThreadScope() {
  PyEval_RestoreThread(static_cast<PyThreadState*>(saved_));
  PyGILState_Release(static_cast<PyGILState_STATE>(gil_state_));
}

CallOutcome CallProcessWrites(const PluginCode& code, const CallContext& ctx,
                              const std::vector<TableRows>& tables) {
  return Run(ctx, [&](py::object& api, CallOutcome&) {
    py::object fn = LoadFunction(code, "process_writes",
                                 "process_writes(influxdb3_local, table_batches, args=None)");
    py::list batches;
    py::str k_table("table_name"), k_rows("rows"), k_time("time");
    for (const auto& t : tables) {
      py::list rows;
      for (const auto& [op, index] : t.rows) {
        const auto& line = op->batch.lines[index];
        py::dict row;
        const auto* tags = op->batch.tags_of(line);
        for (uint32_t i = 0; i < line.tag_count; ++i)
          row[py::str(tags[i].key.data(), tags[i].key.size())] =
              py::str(tags[i].value.data(), tags[i].value.size());
        const auto* fields = op->batch.fields_of(line);
        for (uint32_t i = 0; i < line.field_count; ++i) {
          const auto& f = fields[i];
          py::str key(f.key.data(), f.key.size());
          switch (f.type) {
            case lineproto::FieldType::kFloat:
              row[key] = py::float_(f.f);
              break;
            case lineproto::FieldType::kInteger:
              row[key] = py::int_(f.i);
              break;
            case lineproto::FieldType::kUInteger:
              row[key] = py::int_(f.u);
              break;
            case lineproto::FieldType::kBoolean:
              row[key] = py::bool_(f.b);
              break;
            case lineproto::FieldType::kString:
              row[key] = py::str(f.s.data(), f.s.size());
              break;
          }
        }
        row[k_time] = py::int_(op->times[index]);
        rows.append(std::move(row));
      }
      py::dict batch = Prelude()["_RiffleTableBatch"]();  // a dict that also allows batch.rows
      batch[k_table] = py::str(t.table);
      batch[k_rows] = std::move(rows);
      batches.append(std::move(batch));
    }
    fn(api, batches, ArgsObject(ctx));
  });
}

CallOutcome CallScheduled(const PluginCode& code, const CallContext& ctx,
                          int64_t scheduled_unix_seconds) {
  return Run(ctx, [&](py::object& api, CallOutcome&) {
    py::object fn = LoadFunction(code, "process_scheduled_call",
                                 "process_scheduled_call(influxdb3_local, call_time, args=None)");
    // A naive datetime, as InfluxDB 3 passes it, always in UTC (InfluxDB uses the server's
    // local zone, which is UTC in its containers): the published plugins do
    // call_time.replace(tzinfo=timezone.utc), which is then right whatever TZ the server has.
    py::module_ datetime = py::module_::import("datetime");
    py::object call_time =
        datetime.attr("datetime")
            .attr("fromtimestamp")(scheduled_unix_seconds, datetime.attr("timezone").attr("utc"))
            .attr("replace")(py::arg("tzinfo") = py::none());
    fn(api, call_time, ArgsObject(ctx));
  });
}

CallOutcome CallRequest(const PluginCode& code, const CallContext& ctx,
                        const std::vector<std::pair<std::string, std::string>>& query_params,
                        const std::map<std::string, std::string>& headers,
                        const std::string& body) {
  return Run(ctx, [&](py::object& api, CallOutcome& out) {
    py::object fn =
        LoadFunction(code, "process_request",
                     "process_request(influxdb3_local, query_parameters, request_headers, "
                     "request_body, args=None) -> Tuple[str, Optional[Dict[str, str]]]");
    py::dict params, hdrs;
    for (const auto& [k, v] : query_params) params[py::str(k)] = py::str(v);
    for (const auto& [k, v] : headers)
      if (k != "authorization") hdrs[py::str(k)] = py::str(v);
    py::object result = fn(api, params, hdrs, py::bytes(body), ArgsObject(ctx));
    py::tuple converted = Prelude()["_riffle_convert_response"](result);
    out.http_status = converted[0].cast<int>();
    out.http_body = converted[1].cast<std::string>();
    for (auto item : converted[2].cast<py::dict>())
      out.http_headers.emplace_back(item.first.cast<std::string>(),
                                    item.second.cast<std::string>());
  });
}

}  // namespace riffle::python

namespace riffle::python {

void AddSitePackages(const std::vector<std::string>& paths) {
  if (!g_initialized) return;
  py::gil_scoped_acquire gil;
  py::module_ site = py::module_::import("site");
  py::list sys_path = py::module_::import("sys").attr("path");
  // The environment's packages come before Debian's, as when it exists at start-up (and as a
  // venv's would): addsitedir (which also reads .pth files) appends, so its entries move up.
  for (auto it = paths.rbegin(); it != paths.rend(); ++it) {
    py::list before(sys_path);
    site.attr("addsitedir")(*it);
    py::list added;
    for (auto entry : sys_path)
      if (!before.contains(entry)) added.append(entry);
    if (!before.contains(py::str(*it))) added.insert(0, py::str(*it));
    for (auto entry : added)
      while (sys_path.contains(entry)) sys_path.attr("remove")(entry);
    for (size_t i = 0; i < added.size(); ++i) sys_path.insert(i, added[i]);
    if (added.size() == 0) {  // already known: move it to the front
      sys_path.attr("remove")(py::str(*it));
      sys_path.insert(0, py::str(*it));
    }
  }
  py::module_::import("importlib").attr("invalidate_caches")();
}

unsigned long CurrentThreadId() { return PyThread_get_thread_ident(); }

void InterruptThread(unsigned long thread_id) {
  if (!g_initialized || thread_id == 0) return;
  py::gil_scoped_acquire gil;
  PyThreadState_SetAsyncExc(thread_id, PyExc_KeyboardInterrupt);
}

}  // namespace riffle::python
