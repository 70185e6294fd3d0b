// Dry runs, package installs and the processing-engine system tables.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "common/clock.h"
#include "common/log.h"
#include "common/text.h"
#include "plugin/engine.h"
#include "plugin/plugin_source.h"
#include "plugin/trigger_spec.h"
#include "python/python_runtime.h"
#include "schedule/schedule.h"

namespace riffle::plugin {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::optional<std::map<std::string, std::string>> ArgsFrom(const json& req) {
  if (!req.contains("input_arguments") || req["input_arguments"].is_null()) return std::nullopt;
  std::map<std::string, std::string> args;
  for (const auto& [k, v] : req["input_arguments"].items()) args[k] = v.is_string() ? v.get<std::string>() : v.dump();
  return args;
}

// A host whose writes are only recorded and whose log lines are collected.
struct DryRunHost {
  python::HostServices host;
  std::vector<std::string> log_lines;
};

json DryRunResponse(const python::CallOutcome& out, const std::vector<std::string>& log_lines, write::Writer* writer) {
  json resp = {{"log_lines", json::array()}, {"database_writes", json::object()}, {"errors", json::array()}};
  if (!out.status.ok()) {
    resp["errors"].push_back("error executing plugin: " + out.status.message());
    return resp;
  }
  resp["log_lines"] = log_lines;
  // Sync writes first, then queued ones, as InfluxDB 3 lists them.
  std::map<std::string, std::vector<std::string>> by_db;
  for (bool sync : {true, false})
    for (const auto& w : out.writes)
      if (w.sync == sync) {
        resp["database_writes"][w.database].push_back(w.line);
        by_db[w.database].push_back(w.line);
      }
  for (const auto& [db, lines] : by_db) {
    std::string lp;
    for (const auto& l : lines) lp += l + "\n";
    for (const auto& e : writer->Check(db, lp))
      resp["errors"].push_back("line " + std::to_string(e.line_number) + " for database " + db + ": " + e.message);
  }
  return resp;
}

// Runs one dry-run plugin call on the calling (Python-capable) thread: writes are recorded,
// log lines collected, queries answered for real. Returns the outcome and the JSON response.
std::pair<python::CallOutcome, json> RunDry(const json& req, const std::string& db, query::QueryEngine* engine,
                                            catalog::Catalog* catalog, write::Writer* writer,
                                            const std::function<python::CallOutcome(const python::CallContext&)>& call) {
  DryRunHost dry;
  dry.host.log = [&dry](const std::string& level, const std::string& text) { dry.log_lines.push_back(level + ": " + text); };
  dry.host.query = [engine, catalog](const std::string& d, const std::string& sql, const query::Params& p) {
    return engine->QueryStream(*catalog->State(), d, sql, p);
  };
  python::CallContext ctx;
  ctx.trigger_name = "test";
  ctx.database = db;
  ctx.args = ArgsFrom(req);
  ctx.cache_namespace = "test\x1f" + (req.contains("cache_name") && req["cache_name"].is_string()
                                          ? req["cache_name"].get<std::string>() : std::string("_shared_test"));
  ctx.host = &dry.host;
  ctx.dry_run = true;
  python::CallOutcome out = call(ctx);
  json resp = DryRunResponse(out, dry.log_lines, writer);
  return {std::move(out), std::move(resp)};
}

}  // namespace

worker::WorkerOptions ProcessingEngine::WorkerOptionsNow() {
  worker::WorkerOptions options;
  options.site_packages = SitePackagesOf(options_.virtual_env);
  options.memory_limit_bytes = options_.plugin_memory_limit_bytes;
  options.cache = &worker_cache_;
  return options;
}

python::CallOutcome ProcessingEngine::DryCall(
    const python::CallContext& ctx,
    const std::function<python::CallOutcome(worker::Interpreter&)>& call) {
  if (!options_.isolate_plugins) {
    worker::InProcess here;
    return call(here);
  }
  std::shared_ptr<worker::WorkerPool> pool;
  {
    std::lock_guard lock(test_workers_mu_);
    auto it = test_workers_.find(ctx.cache_namespace);
    if (it == test_workers_.end()) {
      if (test_workers_.size() >= 8)
        test_workers_.erase(test_workers_.begin());  // each is a process
      it = test_workers_
               .emplace(ctx.cache_namespace,
                        std::make_shared<worker::WorkerPool>(WorkerOptionsNow()))
               .first;
    }
    pool = it->second;
  }
  return pool->Run(call);
}

void ProcessingEngine::TestWalPlugin(const json& req, std::function<void(Result<json>)> reply) {
  if (!req.contains("filename") || !req.contains("database") || !req.contains("input_lp"))
    return reply(Status::InvalidArgument("expected JSON with 'filename', 'database' and 'input_lp'"));
  auto code = LoadPluginCode({options_.plugin_dir, options_.plugin_repo}, req["filename"].get<std::string>());
  if (!code.ok()) return reply(code.status());
  if (!python_ready_) return reply(Status::InvalidArgument("the processing engine is not running: start the server with --plugin-dir"));
  std::thread([this, req, code = std::move(code).value(), reply] {
    python::ThreadScope scope;
    auto op = std::make_shared<wal::WriteOp>();
    op->db_name = req["database"];
    op->body = std::make_shared<const std::string>(req["input_lp"].get<std::string>());
    lineproto::ParsedBatch parsed = lineproto::Parse(*op->body);
    if (!parsed.errors.empty()) {
      return reply(json{{"log_lines", json::array()}, {"database_writes", json::object()},
                        {"errors", json::array({"line protocol parse failed: " + parsed.errors[0].message})}});
    }
    int64_t now = NowNanos();
    for (const auto& l : parsed.lines) op->times.push_back(l.timestamp.value_or(now));
    op->batch = std::move(parsed);
    std::vector<python::TableRows> tables;
    for (uint32_t i = 0; i < op->batch.lines.size(); ++i) {
      std::string m(op->batch.lines[i].measurement);
      auto it = std::find_if(tables.begin(), tables.end(), [&](const auto& t) { return t.table == m; });
      if (it == tables.end()) it = tables.insert(tables.end(), python::TableRows{m, {}});
      it->rows.emplace_back(op.get(), i);
    }
    auto [out, resp] =
        RunDry(req, op->db_name, query_, catalog_, writer_, [&](const python::CallContext& ctx) {
          return DryCall(ctx, [&](worker::Interpreter& interpreter) {
            return interpreter.CallProcessWrites(code, ctx, tables);
          });
        });
    reply(resp);
  }).detach();
}

void ProcessingEngine::TestSchedulePlugin(const json& req, std::function<void(Result<json>)> reply) {
  if (!req.contains("filename") || !req.contains("database"))
    return reply(Status::InvalidArgument("expected JSON with 'filename' and 'database'"));
  auto code = LoadPluginCode({options_.plugin_dir, options_.plugin_repo}, req["filename"].get<std::string>());
  if (!code.ok()) return reply(code.status());
  if (!python_ready_) return reply(Status::InvalidArgument("the processing engine is not running: start the server with --plugin-dir"));
  std::string db = req["database"];
  json empty = {{"trigger_time", nullptr}, {"log_lines", json::array()}, {"database_writes", json::object()}};
  if (!catalog_->State()->FindDatabase(db)) {
    empty["errors"] = json::array({"couldn't find db"});
    return reply(empty);
  }
  std::string schedule = req.contains("schedule") && req["schedule"].is_string() ? req["schedule"].get<std::string>()
                                                                                  : "* * * * * *";
  auto spec = ParseCronOnly(schedule);
  if (!spec.ok()) {
    empty["errors"] = json::array({"invalid cron syntax: " + spec.status().message()});
    return reply(empty);
  }
  auto next = spec->next_after(NowNanos());
  if (!next) {
    empty["errors"] = json::array({"cron schedule has no future run: " + schedule});
    return reply(empty);
  }
  std::thread([this, req, db, when = *next, code = std::move(code).value(), reply] {
    python::ThreadScope scope;
    auto [out, resp] =
        RunDry(req, db, query_, catalog_, writer_, [&](const python::CallContext& ctx) {
          return DryCall(ctx, [&](worker::Interpreter& interpreter) {
            return interpreter.CallScheduled(code, ctx, when / 1000000000);
          });
        });
    resp["trigger_time"] = FormatRfc3339Seconds(when / 1000000000);
    reply(resp);
  }).detach();
}

void ProcessingEngine::TestRequestPlugin(const json& req, std::function<void(Result<json>)> reply) {
  if (!req.contains("filename") || !req["filename"].is_string() || !req.contains("database") ||
      !req["database"].is_string())
    return reply(Status::InvalidArgument("expected JSON with 'filename' and 'database'"));
  auto code = LoadPluginCode({options_.plugin_dir, options_.plugin_repo}, req["filename"].get<std::string>());
  if (!code.ok()) return reply(code.status());
  if (!python_ready_) return reply(Status::InvalidArgument("the processing engine is not running: start the server with --plugin-dir"));
  std::string db = req["database"];
  if (!catalog_->State()->FindDatabase(db)) return reply(Status::NotFound("database not found: " + db));
  std::vector<std::pair<std::string, std::string>> query;
  std::map<std::string, std::string> headers;
  for (const char* key : {"query_parameters", "headers"}) {
    if (!req.contains(key) || req[key].is_null()) continue;
    if (!req[key].is_object()) return reply(Status::InvalidArgument(std::string("'") + key + "' must be an object"));
    for (const auto& [k, v] : req[key].items()) {
      std::string value = v.is_string() ? v.get<std::string>() : v.dump();
      if (std::string(key) == "headers") {
        headers[AsciiLower(k)] = value;  // request headers reach plugins lower-cased, as over HTTP
      } else {
        query.emplace_back(k, value);
      }
    }
  }
  std::string body = req.contains("body") && req["body"].is_string() ? req["body"].get<std::string>() : "";
  std::thread([this, req, db, query, headers, body, code = std::move(code).value(), reply] {
    python::ThreadScope scope;
    auto [out, resp] =
        RunDry(req, db, query_, catalog_, writer_, [&](const python::CallContext& ctx) {
          return DryCall(ctx, [&](worker::Interpreter& interpreter) {
            return interpreter.CallRequest(code, ctx, query, headers, body);
          });
        });
    if (out.status.ok()) {
      json hdrs = json::object();
      for (const auto& [k, v] : out.http_headers) hdrs[k] = v;
      resp["response"] = {{"status", out.http_status}, {"headers", hdrs}, {"body", out.http_body}};
    } else {
      resp["response"] = {{"status", 500}, {"headers", json::object()},
                          {"body", json({{"error", "Python function call failed: " + out.status.message()}}).dump()}};
    }
    reply(resp);
  }).detach();
}

namespace {

// Runs a command without a shell; returns its exit status and combined output.
int RunCommand(const std::vector<std::string>& argv, std::string* output) {
  std::string cmd;
  for (const auto& a : argv) {
    std::string quoted = "'";
    for (char c : a) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    cmd += quoted + "' ";
  }
  cmd += "2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return -1;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) output->append(buf.data(), n);
  int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

Status ProcessingEngine::EnsureVenv() {
  if (options_.virtual_env.empty())
    return Status::InvalidArgument("no plugin directory configured: start the server with --plugin-dir");
  std::error_code ec;
  if (fs::exists(fs::path(options_.virtual_env) / "bin" / "python", ec)) return Status::Ok();
  std::string out;
  int rc = RunCommand({"/usr/bin/python3", "-m", "venv", "--system-site-packages", options_.virtual_env}, &out);
  if (rc != 0) return Status::Internal("cannot create the plugin virtual environment: " + out);
  return Status::Ok();
}

namespace {

std::string LastLine(const std::string& text) {
  size_t end = text.find_last_not_of("\n ");
  if (end == std::string::npos) return text;
  size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1, end + 1 - (start == std::string::npos ? 0 : start + 1));
}

// The import packages of a local source tree: directories with __init__.py under src/ (the
// src layout) or at its top (flat layout), tests and hidden directories excepted.
std::vector<fs::path> SourcePackagesOf(const fs::path& project) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (const fs::path& root : {project / "src", project}) {
    if (!fs::is_directory(root, ec)) continue;
    for (const auto& entry : fs::directory_iterator(root, ec)) {
      std::string name = entry.path().filename().string();
      if (!entry.is_directory() || name.empty() || name[0] == '.' || name[0] == '_' || name == "tests" ||
          name == "test" || !fs::exists(entry.path() / "__init__.py", ec))
        continue;
      found.push_back(entry.path());
    }
    if (!found.empty()) break;
  }
  return found;
}

bool IsLocalProject(const std::string& spec) {
  std::error_code ec;
  return fs::is_directory(spec, ec) && (fs::exists(fs::path(spec) / "pyproject.toml", ec) ||
                                        fs::exists(fs::path(spec) / "setup.py", ec));
}

}  // namespace

namespace {
const Status kPackagesDisabled(Code::kForbidden,
                               "Package installation has been disabled. Contact your administrator for more "
                               "information.");
}  // namespace

Status ProcessingEngine::InstallPackages(const std::vector<std::string>& packages) {
  if (!options_.package_management) return kPackagesDisabled;
  if (packages.empty()) return Status::InvalidArgument("no packages given: expected at least one package name");
  RIFFLE_RETURN_IF_ERROR(EnsureVenv());
  std::vector<std::string> argv = {options_.virtual_env + "/bin/python", "-m", "pip", "install",
                                   "--disable-pip-version-check", "--no-input"};
  // PIP_* environment (e.g. PIP_NO_INDEX, PIP_FIND_LINKS) passes through for offline installs.
  for (const auto& p : packages) argv.push_back(p);
  std::string out;
  // Whatever pip manages to install is importable at once, even if a later package fails.
  struct ExposeVenv {
    ProcessingEngine* engine;
    ~ExposeVenv() { engine->PackagesChanged(); }
  } expose{this};
  if (RunCommand(argv, &out) != 0) {
    // A local source tree whose build backend is not installed (offline, e.g. hatchling newer
    // than Debian's) is pure Python more often than not: install its packages by copying them
    // into the environment, as an editable install would expose them. Everything else given
    // must still install with pip.
    std::vector<std::string> others, local;
    for (const auto& p : packages) (IsLocalProject(p) && !SourcePackagesOf(p).empty() ? local : others).push_back(p);
    auto sites = SitePackagesOf(options_.virtual_env);
    if (local.empty() || sites.empty()) return Status::Internal("package installation failed: " + out);
    if (!others.empty()) {
      argv.resize(6);
      argv.insert(argv.end(), others.begin(), others.end());
      std::string retry;
      if (RunCommand(argv, &retry) != 0) return Status::Internal("package installation failed: " + retry);
    }
    for (const auto& project : local) {
      std::string names;
      for (const auto& pkg : SourcePackagesOf(project)) {
        std::error_code ec;
        fs::path target = fs::path(sites.front()) / pkg.filename();
        fs::remove_all(target, ec);
        fs::copy(pkg, target, fs::copy_options::recursive, ec);
        if (ec) return Status::Internal("cannot copy " + pkg.string() + " into the plugin environment: " + ec.message());
        names += (names.empty() ? "" : ", ") + pkg.filename().string();
      }
      log::Warn("pip could not build " + project + " (" + LastLine(out) + "); installed its pure-Python packages " +
                names + " by copying them into " + sites.front());
    }
  }
  return Status::Ok();
}

Status ProcessingEngine::InstallRequirements(const std::string& requirements_file) {
  if (!options_.package_management) return kPackagesDisabled;
  RIFFLE_RETURN_IF_ERROR(EnsureVenv());
  std::string out;
  int rc = RunCommand({options_.virtual_env + "/bin/python", "-m", "pip", "install", "--disable-pip-version-check",
                       "--no-input", "-r", requirements_file},
                      &out);
  PackagesChanged();
  if (rc != 0) return Status::Internal("package installation failed: " + out);
  return Status::Ok();
}

Result<query::VirtualTable> ProcessingEngine::SystemTable(const std::string& db_name, const std::string& table) {
  using CT = catalog::ColumnType;
  query::VirtualTable vt;
  if (table == "processing_engine_logs") {
    vt.columns = {{"event_time", CT::kTime}, {"trigger_name", CT::kString}, {"log_level", CT::kString},
                  {"log_text", CT::kString}};
    std::lock_guard lock(log_mu_);
    size_t n = logs_.size();
    size_t start = n < options_.log_capacity ? 0 : log_next_;
    for (size_t i = 0; i < n; ++i) {
      const auto& e = logs_[(start + i) % n];
      vt.rows.push_back({query::Timestamp{e.time_ns}, e.trigger, e.level, e.text});
    }
    return vt;
  }
  auto state = catalog_->State();
  const catalog::Database* db = state->FindDatabase(db_name);
  if (table == "processing_engine_triggers") {
    vt.columns = {{"trigger_name", CT::kString}, {"plugin_filename", CT::kString}, {"trigger_specification", CT::kString},
                  {"disabled", CT::kBool}, {"error_behavior", CT::kString}, {"run_async", CT::kBool},
                  {"run_timeout", CT::kString}, {"max_retries", CT::kInt64}, {"queue_size", CT::kInt64}};
    if (db)
      for (const auto& [name, t] : db->triggers) {
        auto spec = ParseSpec(t.specification);
        query::Value timeout;
        if (t.settings.run_timeout_ns > 0)
          timeout = schedule::FormatHumanDuration(std::chrono::nanoseconds(t.settings.run_timeout_ns));
        vt.rows.push_back({t.name, t.plugin_filename, spec.ok() ? spec->system_json : t.specification, t.disabled,
                           t.settings.error_behavior, t.settings.run_async, timeout,
                           int64_t{t.settings.max_retries},
                           t.settings.queue_size > 0 ? t.settings.queue_size : int64_t(options_.queue_capacity)});
      }
    return vt;
  }
  if (table == "processing_engine_trigger_arguments") {
    vt.columns = {{"trigger_name", CT::kString}, {"argument_key", CT::kString}, {"argument_value", CT::kString}};
    if (db)
      for (const auto& [name, t] : db->triggers)
        if (t.arguments)
          for (const auto& [k, v] : *t.arguments) vt.rows.push_back({t.name, k, v});
    return vt;
  }
  if (table == "processing_engine_runs") return runs_.Table(db_name);
  if (table == "plugin_files" && db_name == "_internal") {
    // One row per trigger (all databases) whose plugin is on disk; a directory plugin lists
    // each of its .py files. gh: plugins are not files here.
    vt.columns = {{"plugin_name", CT::kString}, {"file_name", CT::kString}, {"file_path", CT::kString},
                  {"size_bytes", CT::kInt64},   {"last_modified", CT::kInt64}};
    auto add = [&vt](const std::string& trigger, const std::string& name, const fs::path& path) {
      std::error_code ec;
      auto size = fs::file_size(path, ec);
      if (ec) return;
      auto mtime = fs::last_write_time(path, ec);
      int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::file_clock::to_sys(mtime).time_since_epoch())
                       .count();
      vt.rows.push_back({trigger, name, fs::absolute(path).string(), static_cast<int64_t>(size), ms});
    };
    for (const auto& [dbname, d] : state->databases) {
      if (d->deleted) continue;
      for (const auto& [tname, t] : d->triggers) {
        if (t.plugin_filename.rfind("gh:", 0) == 0) continue;
        auto path = ResolveLocalPath(options_.plugin_dir, t.plugin_filename);
        if (!path.ok()) continue;
        std::error_code ec;
        if (fs::is_directory(*path, ec)) {
          for (auto it = fs::recursive_directory_iterator(*path, ec); !ec && it != fs::recursive_directory_iterator();
               it.increment(ec))
            if (it->is_regular_file() && it->path().extension() == ".py" &&
                it->path().string().find("__pycache__") == std::string::npos)
              add(t.name, fs::relative(it->path(), options_.plugin_dir, ec).string(), it->path());
        } else {
          add(t.name, t.plugin_filename, *path);
        }
      }
    }
    return vt;
  }
  return Status::InvalidArgument("system table 'system." + table +
                                 "' not found: expected one of processing_engine_logs, processing_engine_triggers, "
                                 "processing_engine_trigger_arguments, processing_engine_runs, parquet_files, queries");
}

}  // namespace riffle::plugin
