// influxdb3 import upload (InfluxDB 3 Enterprise's command): Parquet files (read here with
// DuckDB) or line-protocol files, written into a database through the write API in batches, with
// progress on stderr and a summary. Parquet columns become tags, fields or the time by --column
// <name>:<tag|time|i64|u64|f64|bool|string>; else by the target table's schema when it exists;
// else a column named time is the time and every other column a field (as Enterprise does).
#include <charconv>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/client_common.h"
#include "duck/connection.h"
#include "duck/database.h"
#include "duck/duck.h"

namespace riffle::cli {

using nlohmann::json;

namespace {

constexpr size_t kBatchLines = 10'000;

struct ImportArgs {
  ClientOptions opts;
  std::string database, table;
  std::vector<std::string> columns, paths;
};

enum class Kind { kTag, kTime, kField, kSkip };
// A field's line-protocol type when --column names one: 'i', 'u', 'f', 'b', 's'; 0 keeps the
// Parquet column's own.
struct Mapping {
  Kind kind = Kind::kField;
  char cast = 0;
};

void Escape(std::string& out, std::string_view s, std::string_view specials) {
  for (char c : s) {
    if (specials.find(c) != std::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
}

bool AppendField(std::string& out, const duck::Value& v);

// `v` as line-protocol type `cast` (see Mapping).
duck::Value Cast(const duck::Value& v, char cast) {
  if (cast == 0 || std::holds_alternative<std::monostate>(v)) return v;
  double d = 0;
  if (auto* i = std::get_if<int64_t>(&v)) d = static_cast<double>(*i);
  if (auto* u = std::get_if<uint64_t>(&v)) d = static_cast<double>(*u);
  if (auto* f = std::get_if<double>(&v)) d = *f;
  if (auto* b = std::get_if<bool>(&v)) d = *b ? 1 : 0;
  bool numeric = !std::holds_alternative<std::string>(v);
  switch (cast) {
    case 'f':
      return numeric ? duck::Value(d) : v;
    case 'i':
      if (auto* i = std::get_if<int64_t>(&v)) return *i;
      return numeric ? duck::Value(static_cast<int64_t>(d)) : v;
    case 'u':
      if (auto* u = std::get_if<uint64_t>(&v)) return *u;
      return numeric && d >= 0 ? duck::Value(static_cast<uint64_t>(d)) : v;
    case 'b':
      return numeric ? duck::Value(d != 0) : v;
    case 's': {
      if (auto* s = std::get_if<std::string>(&v)) return *s;
      std::string text;
      AppendField(text, v);
      if (!text.empty() && (text.back() == 'i' || text.back() == 'u')) text.pop_back();
      return text;
    }
  }
  return v;
}

// A field value in line protocol; false for NULL (the field is left out of the line).
bool AppendField(std::string& out, const duck::Value& v) {
  return std::visit(
      [&](const auto& x) -> bool {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return false;
        } else if constexpr (std::is_same_v<T, bool>) {
          out += x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, int64_t>) {
          out += std::to_string(x) + "i";
        } else if constexpr (std::is_same_v<T, uint64_t>) {
          out += std::to_string(x) + "u";
        } else if constexpr (std::is_same_v<T, double>) {
          char buf[32];
          auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x);
          out.append(buf, end);
        } else if constexpr (std::is_same_v<T, std::string>) {
          out.push_back('"');
          Escape(out, x, "\"\\");
          out.push_back('"');
        } else {  // a timestamp stored as a field: nanoseconds
          out += std::to_string(x.ns) + "i";
        }
        return true;
      },
      v);
}

std::string TagText(const duck::Value& v) {
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  if (std::holds_alternative<std::monostate>(v)) return "";
  std::string out;
  AppendField(out, v);
  if (!out.empty() && (out.back() == 'i' || out.back() == 'u')) out.pop_back();
  return out;
}

// The kind of each column: --column first, then the server's schema of the table, then the name.
Result<std::map<std::string, Mapping>> KindsFromServer(const ImportArgs& a) {
  std::map<std::string, Mapping> kinds;
  std::string sql =
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'iox' "
      "AND table_name = " +
      duck::QuoteLiteral(a.table);
  auto r = HttpCall(
      a.opts, "GET",
      "/api/v3/query_sql?db=" + UrlEncode(a.database) + "&format=json&q=" + UrlEncode(sql));
  if (!r.ok()) return r.status();
  if (r->status == 404) return kinds;  // no such database yet: the write creates it
  if (r->status != 200) return Status::InvalidArgument(ErrorMessage(*r));
  json rows = json::parse(r->body, nullptr, false);
  if (!rows.is_array()) return kinds;
  for (const auto& row : rows) {
    std::string type = row.value("data_type", "");
    kinds[row.value("column_name", "")].kind = type.rfind("Dictionary", 0) == 0  ? Kind::kTag
                                               : type.rfind("Timestamp", 0) == 0 ? Kind::kTime
                                                                                 : Kind::kField;
  }
  return kinds;
}

struct Totals {
  int64_t rows = 0, skipped = 0, files = 0;
};

Status Post(const ImportArgs& a, const std::string& body) {
  auto r = HttpCall(a.opts, "POST",
                    "/api/v3/write_lp?db=" + UrlEncode(a.database) + "&precision=nanosecond", body,
                    "text/plain; charset=utf-8");
  if (!r.ok()) return r.status();
  if (r->status != 204)
    return Status::InvalidArgument("the server refused a batch: " + ErrorMessage(*r));
  return Status::Ok();
}

// Lines gathered into write requests of kBatchLines each, with the running count on stderr.
class Batcher {
 public:
  Batcher(const ImportArgs& a, std::string label, Totals* totals)
      : args_(a), label_(std::move(label)), totals_(totals) {}
  Status Add(std::string_view line) {
    batch_.append(line);
    batch_.push_back('\n');
    ++totals_->rows;
    return ++lines_ == kBatchLines ? Flush() : Status::Ok();
  }
  Status Flush() {
    if (lines_ == 0) return Status::Ok();
    RIFFLE_RETURN_IF_ERROR(Post(args_, batch_));
    batch_.clear();
    lines_ = 0;
    std::cerr << "\r  " << label_ << ": " << totals_->rows << " rows" << std::flush;
    return Status::Ok();
  }

 private:
  const ImportArgs& args_;
  std::string label_;
  Totals* totals_;
  std::string batch_;
  size_t lines_ = 0;
};

Status ImportParquet(const ImportArgs& a, const std::filesystem::path& file,
                     const std::map<std::string, Mapping>& mapped, Totals* totals) {
  duck::DatabaseOptions options;
  options.threads = 2;
  options.allowed_directories = {std::filesystem::absolute(file).parent_path().string()};
  RIFFLE_ASSIGN_OR_RETURN(auto db, duck::Database::Open(options));
  RIFFLE_ASSIGN_OR_RETURN(auto conn, duck::Connection::Open(*db));
  RIFFLE_ASSIGN_OR_RETURN(
      auto stmt,
      conn.PrepareOne("SELECT * FROM read_parquet(" +
                      duck::QuoteLiteral(std::filesystem::absolute(file).string()) + ")"));
  RIFFLE_ASSIGN_OR_RETURN(auto rows, stmt->ExecuteStreaming());
  const auto& names = rows->column_names();
  std::vector<Kind> kinds;
  std::vector<char> casts;
  bool has_time = false;
  for (const auto& n : names) {
    auto it = mapped.find(n);
    Kind k = it != mapped.end() ? it->second.kind : n == "time" ? Kind::kTime : Kind::kField;
    has_time = has_time || k == Kind::kTime;
    kinds.push_back(k);
    casts.push_back(it != mapped.end() ? it->second.cast : 0);
  }
  if (!has_time)
    return Status::InvalidArgument(file.string() +
                                   " has no time column: name one with --column <name>:time");
  std::string measurement;
  Escape(measurement, a.table, ", ");
  Batcher batcher(a, file.filename().string(), totals);
  duck::Batch chunk;
  for (;;) {
    RIFFLE_ASSIGN_OR_RETURN(bool more, rows->Next(&chunk));
    if (!more) break;
    for (size_t r = 0; r < chunk.rows; ++r) {
      std::string line = measurement, fields;
      int64_t time = 0;
      bool time_set = false;
      for (size_t c = 0; c < names.size(); ++c) {
        const duck::Value& v = chunk.at(r, c);
        if (kinds[c] == Kind::kTag) {
          std::string text = TagText(v);
          if (text.empty()) continue;
          line.push_back(',');
          Escape(line, names[c], ",= ");
          line.push_back('=');
          Escape(line, text, ",= ");
        } else if (kinds[c] == Kind::kTime) {
          if (auto* t = std::get_if<duck::Timestamp>(&v)) time = t->ns, time_set = true;
          if (auto* i = std::get_if<int64_t>(&v)) time = *i, time_set = true;
        } else if (kinds[c] == Kind::kField) {
          std::string value;
          if (!AppendField(value, Cast(v, casts[c]))) continue;
          fields += fields.empty() ? "" : ",";
          Escape(fields, names[c], ",= ");
          fields += "=" + value;
        }
      }
      if (fields.empty() || !time_set) {
        ++totals->skipped;  // line protocol needs a field and a time
        continue;
      }
      RIFFLE_RETURN_IF_ERROR(batcher.Add(line + " " + fields + " " + std::to_string(time)));
    }
  }
  return batcher.Flush();
}

Status ImportLineProtocol(const ImportArgs& a, const std::filesystem::path& file, Totals* totals) {
  auto text = ReadFile(file.string());
  if (!text.ok()) return text.status();
  Batcher batcher(a, file.filename().string(), totals);
  size_t start = 0;
  while (start < text->size()) {
    size_t end = text->find('\n', start);
    if (end == std::string::npos) end = text->size();
    std::string_view line(text->data() + start, end - start);
    start = end + 1;
    if (line.empty() || line[0] == '#') continue;
    RIFFLE_RETURN_IF_ERROR(batcher.Add(line));
  }
  return batcher.Flush();
}

int Import(const ImportArgs& a) {
  std::vector<std::filesystem::path> files;
  for (const auto& p : a.paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      std::vector<std::filesystem::path> found;
      for (const auto& e : std::filesystem::recursive_directory_iterator(p, ec))
        if (e.is_regular_file() &&
            (e.path().extension() == ".parquet" || e.path().extension() == ".lp"))
          found.push_back(e.path());
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (std::filesystem::is_regular_file(p, ec)) {
      files.emplace_back(p);
    } else {
      return Fail("no such file or directory: " + p);
    }
  }
  if (files.empty()) return Fail("no .parquet or .lp files found in the paths given");
  std::map<std::string, Mapping> mapped;
  bool any_parquet = std::any_of(files.begin(), files.end(),
                                 [](const auto& f) { return f.extension() == ".parquet"; });
  if (any_parquet) {
    if (a.table.empty())
      return Fail("--table is required for Parquet files: the table their rows go to");
    auto from_server = KindsFromServer(a);
    if (!from_server.ok()) return Fail(from_server.status().message());
    mapped = *from_server;
    static const std::map<std::string, Mapping> kNames = {
        {"tag", {Kind::kTag, 0}},        {"time", {Kind::kTime, 0}},
        {"i64", {Kind::kField, 'i'}},    {"u64", {Kind::kField, 'u'}},
        {"f64", {Kind::kField, 'f'}},    {"bool", {Kind::kField, 'b'}},
        {"string", {Kind::kField, 's'}}, {"skip", {Kind::kSkip, 0}}};
    for (const auto& c : a.columns) {
      size_t colon = c.rfind(':');
      auto kind = colon == std::string::npos ? kNames.end() : kNames.find(c.substr(colon + 1));
      if (kind == kNames.end())
        return Fail("--column '" + c +
                    "': expected <column>:<tag|time|i64|u64|f64|bool|string|skip>");
      mapped[c.substr(0, colon)] = kind->second;
    }
  }
  auto started = std::chrono::steady_clock::now();
  Totals totals;
  for (size_t i = 0; i < files.size(); ++i) {
    std::cerr << "[" << i + 1 << "/" << files.size() << "] " << files[i].string() << "\n";
    int64_t before = totals.rows;
    Status st = files[i].extension() == ".parquet" ? ImportParquet(a, files[i], mapped, &totals)
                                                   : ImportLineProtocol(a, files[i], &totals);
    if (!st.ok())
      return Fail(files[i].string() + ": " + st.message() + " (" + std::to_string(totals.rows) +
                  " rows were imported before it)");
    std::cerr << "\r  " << files[i].filename().string() << ": " << totals.rows - before
              << " rows\n";
    ++totals.files;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "Imported " << totals.rows << " rows from " << totals.files
            << " files into database \"" << a.database << "\""
            << (a.table.empty() ? "" : ", table \"" + a.table + "\"") << " in " << secs << " s ("
            << static_cast<int64_t>(secs > 0 ? totals.rows / secs : 0) << " rows/s)";
  if (totals.skipped)
    std::cout << "; " << totals.skipped << " rows without a field or a time were skipped";
  std::cout << "\n";
  return 0;
}

}  // namespace

void RegisterImportCommands(CLI::App& app, std::function<int()>* action) {
  auto a = std::make_shared<ImportArgs>();
  CLI::App* imp = app.add_subcommand("import", "Import Parquet or line-protocol files");
  imp->require_subcommand(1);
  CLI::App* upload =
      imp->add_subcommand("upload",
                          "Write the rows of Parquet (.parquet) or line-protocol (.lp) "
                          "files, or of every such file under a directory");
  AddCommonOptions(upload, &a->opts, &a->database, true);
  upload->add_option("-t,--table", a->table, "the table Parquet rows go to");
  upload
      ->add_option(
          "--column", a->columns,
          "<column>:<tag|time|i64|u64|f64|bool|string|skip> for a Parquet column (repeatable)")
      ->allow_extra_args(false);
  upload->add_option("paths", a->paths, "files or directories")->required();
  upload->callback([a, action] { *action = [a] { return Import(*a); }; });
}

}  // namespace riffle::cli
