#include "influxql/select.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/text.h"
#include "query/sql_compat.h"

namespace riffle::influxql {

using catalog::ColumnType;
using query::QuoteIdent;
using query::QuoteLiteral;

namespace {

const std::set<std::string> kAggregates = {"count", "mean",   "median", "mode",
                                           "sum",   "min",    "max",    "first",
                                           "last",  "spread", "stddev", "percentile"};
const std::set<std::string> kSelectors = {"first", "last", "min", "max"};
const std::set<std::string> kTransforms = {"derivative", "non_negative_derivative", "difference",
                                           "non_negative_difference"};
constexpr const char* kTransformInner = "__riffle_inner";
// Scalar functions InfluxQL and DuckDB spell alike.
const std::set<std::string> kScalarFunctions = {"abs",  "ceil",  "floor", "round", "sqrt", "ln",
                                                "log2", "log10", "exp",   "pow",   "sin",  "cos",
                                                "tan",  "asin",  "acos",  "atan",  "atan2"};

bool IsAggregateCall(const std::vector<Token>& tokens, size_t i, size_t end) {
  return i + 1 < end && tokens[i].type == TokenType::kIdent &&
         kAggregates.count(AsciiLower(tokens[i].text)) && tokens[i + 1].Is(TokenType::kOp, "(");
}

// fill() generates at most this many buckets per series (InfluxQL's max-select-buckets).
constexpr int kMaxFillBuckets = 100000;

std::string GroupTagsOf(const std::string& alias, const std::vector<std::string>& tags) {
  std::string out;
  for (const auto& t : tags) out += (out.empty() ? "" : ", ") + alias + "." + QuoteIdent(t);
  return out;
}

// An InfluxQL aggregate over the SQL expression `arg` ($ in the templates; % is percentile's p).
std::string AggregateSql(const std::string& fn, const std::string& arg, const std::string& extra) {
  static const std::map<std::string, std::string> kTemplates = {
      {"count", "count($)"},
      {"mean", "avg($)"},
      {"median", "median($)"},
      {"mode", "mode($)"},
      {"sum", "sum($)"},
      {"min", "min($)"},
      {"max", "max($)"},
      {"first", "arg_min($, \"time\")"},
      {"last", "arg_max($, \"time\")"},
      {"spread", "(max($) - min($))"},
      {"stddev", "stddev_samp($)"},
      // Nearest rank, as InfluxQL: the value at floor(n * p / 100 + 0.5) of the sorted values.
      {"percentile",
       "list_sort(list($) FILTER (WHERE $ IS NOT NULL))[greatest(1, floor(count($) * % / 100.0 + "
       "0.5)::BIGINT)]"},
  };
  std::string out;
  for (char c : kTemplates.at(fn)) {
    if (c == '$')
      out += arg;
    else if (c == '%')
      out += extra;
    else
      out += c;
  }
  return out;
}

}  // namespace

Result<Source> SelectSource(const std::vector<Token>& tokens) {
  int depth = 0;
  for (size_t i = 1; tokens[i].type != TokenType::kEnd; ++i) {
    if (tokens[i].Is(TokenType::kOp, "(")) ++depth;
    if (tokens[i].Is(TokenType::kOp, ")")) --depth;
    if (depth == 0 && tokens[i].IsKeyword("FROM")) {
      size_t pos = i + 1;
      return ParseSource(tokens, &pos);
    }
  }
  return ParseError("found no FROM clause, expected SELECT … FROM <measurement>");
}

Result<SelectPlan> TranslateSelect(const std::vector<Token>& tokens, const catalog::Table& table,
                                   bool fill_in_stream) {
  SelectPlan plan;
  // Clause boundaries at depth 0.
  size_t from = 0;
  std::map<std::string, size_t> clause;  // keyword → its position
  int depth = 0;
  for (size_t i = 1; tokens[i].type != TokenType::kEnd; ++i) {
    if (tokens[i].Is(TokenType::kOp, "(")) ++depth;
    if (tokens[i].Is(TokenType::kOp, ")")) --depth;
    if (depth != 0 || tokens[i].type != TokenType::kIdent) continue;
    std::string kw = AsciiLower(tokens[i].text);
    if (kw == "from" && !from)
      from = i;
    else if (from &&
             (kw == "where" || kw == "group" || kw == "order" || kw == "limit" || kw == "offset" ||
              kw == "slimit" || kw == "soffset" || kw == "fill" || kw == "tz") &&
             !clause.count(kw))
      clause[kw] = i;
  }
  size_t end = 0;
  while (tokens[end].type != TokenType::kEnd) ++end;
  auto clause_end = [&](size_t start) {
    size_t e = end;
    for (const auto& [kw, pos] : clause)
      if (pos > start && pos < e) e = pos;
    return e;
  };
  size_t pos = from + 1;
  RIFFLE_ASSIGN_OR_RETURN(plan.source, ParseSource(tokens, &pos));
  if (pos != clause_end(from))
    return ParseError("unexpected '" + tokens[pos].text + "' after the measurement");
  if (clause.count("slimit") || clause.count("soffset") || clause.count("tz"))
    return Status::Unimplemented("InfluxQL: SLIMIT, SOFFSET and tz() are not supported");

  std::vector<std::string> tags, fields;
  std::set<std::string> numeric;
  for (const auto& c : table.columns) {
    if (c.type == ColumnType::kTag)
      tags.push_back(c.name);
    else if (c.type != ColumnType::kTime)
      fields.push_back(c.name);
    if (c.type == ColumnType::kFloat64 || c.type == ColumnType::kInt64 ||
        c.type == ColumnType::kUInt64)
      numeric.insert(c.name);
  }
  std::sort(tags.begin(), tags.end());
  std::sort(fields.begin(), fields.end());
  std::set<std::string> known(tags.begin(), tags.end());
  known.insert(fields.begin(), fields.end());

  // GROUP BY time(d[, offset]), tags, *
  int64_t bucket_ns = 0, bucket_offset_ns = 0;
  if (clause.count("group")) {
    size_t g = clause["group"];
    if (!tokens[g + 1].IsKeyword("BY")) return ParseError("expected BY after GROUP");
    for (auto [b, e] : SplitCommas(tokens, g + 2, clause_end(g))) {
      if (b == e) return ParseError("empty GROUP BY item");
      if (tokens[b].IsKeyword("time") && b + 1 < e && tokens[b + 1].Is(TokenType::kOp, "(")) {
        if (b + 2 >= e || tokens[b + 2].type != TokenType::kDuration)
          return ParseError("GROUP BY time() needs a duration, e.g. time(1m)");
        bucket_ns = tokens[b + 2].duration_ns;
        if (tokens[b + 3].Is(TokenType::kOp, ",")) {
          bool negative = tokens[b + 4].Is(TokenType::kOp, "-");
          const Token& off = tokens[b + 4 + (negative ? 1 : 0)];
          if (off.type != TokenType::kDuration)
            return ParseError("GROUP BY time() offset must be a duration");
          bucket_offset_ns = negative ? -off.duration_ns : off.duration_ns;
        }
        if (bucket_ns <= 0) return ParseError("GROUP BY time() needs a positive duration");
      } else if (tokens[b].Is(TokenType::kOp, "*") && e == b + 1) {
        for (const auto& t : tags)
          if (std::find(plan.group_tags.begin(), plan.group_tags.end(), t) == plan.group_tags.end())
            plan.group_tags.push_back(t);
      } else if (IsName(tokens[b]) && e == b + 1) {
        if (std::find(tags.begin(), tags.end(), tokens[b].text) == tags.end())
          continue;  // unknown tag: no split
        if (std::find(plan.group_tags.begin(), plan.group_tags.end(), tokens[b].text) ==
            plan.group_tags.end())
          plan.group_tags.push_back(tokens[b].text);
      } else {
        return Status::Unimplemented(
            "InfluxQL: GROUP BY supports time(<duration>), tag names and *");
      }
    }
  }
  // fill(): which value empty GROUP BY time() buckets get (null by default, as InfluxQL).
  enum class Fill { kNull, kNone, kNumber, kPrevious } fill = Fill::kNull;
  std::string fill_value;
  if (clause.count("fill")) {
    size_t f = clause["fill"];
    size_t close = MatchingParen(tokens, f + 1, end);
    bool negative = tokens[f + 2].Is(TokenType::kOp, "-");
    if (!tokens[f + 1].Is(TokenType::kOp, "(") || close != f + 3 + (negative ? 1 : 0))
      return ParseError("expected fill(null|none|previous|<number>)");
    const Token& v = tokens[f + 2 + (negative ? 1 : 0)];
    if (v.type == TokenType::kNumber) {
      fill = Fill::kNumber;
      fill_value = (negative ? "-" : "") + v.text;
    } else if (negative) {
      return ParseError("expected a number after fill(-");
    } else if (v.IsKeyword("none")) {
      fill = Fill::kNone;
    } else if (v.IsKeyword("previous")) {
      fill = Fill::kPrevious;
    } else if (!v.IsKeyword("null")) {
      return Status::Unimplemented("InfluxQL: fill(" + v.text +
                                   ") is not supported; use fill(null), fill(none), fill(previous) "
                                   "or fill(<number>)");
    }
  }

  // The field list.
  struct Output {
    std::string sql, name;
  };
  std::vector<Output> outputs;
  struct Transform {
    std::string kind, name;  // derivative, non_negative_derivative, difference, …; output column
    int64_t unit_ns = 1'000'000'000;
  } transform;
  std::vector<std::string> selector_functions, selector_args;  // for the time of a lone selector
  bool any_aggregate = false, any_raw = false;
  std::map<std::string, int> name_count;
  auto unique_name = [&](const std::string& base) {
    int n = name_count[base]++;
    return n == 0 ? base : base + "_" + std::to_string(n);
  };
  for (auto [b, e] : SplitCommas(tokens, 1, from)) {
    if (b == e) return ParseError("empty field in SELECT");
    std::string alias;
    if (e - b >= 3 && tokens[e - 2].IsKeyword("AS") && IsName(tokens[e - 1])) {
      alias = tokens[e - 1].text;
      e -= 2;
    }
    // derivative(x[, unit]) and its kin: the inner value is computed as a field of its own
    // and the rate or difference between consecutive points taken around it.
    if (tokens[b].type == TokenType::kIdent && kTransforms.count(AsciiLower(tokens[b].text)) &&
        tokens[b + 1].Is(TokenType::kOp, "(") && MatchingParen(tokens, b + 1, e) == e - 1) {
      if (!transform.kind.empty())
        return Status::Unimplemented(
            "InfluxQL: only one derivative or difference per query is supported");
      transform.kind = AsciiLower(tokens[b].text);
      auto parts = SplitCommas(tokens, b + 2, e - 1);
      if (parts.size() == 2) {
        const Token& unit = tokens[parts[1].first];
        if (transform.kind.find("derivative") == std::string::npos ||
            parts[1].second != parts[1].first + 1 || unit.type != TokenType::kDuration ||
            unit.duration_ns <= 0)
          return ParseError(transform.kind + "() takes a field or aggregate" +
                            (transform.kind.find("derivative") != std::string::npos
                                 ? " and a duration unit"
                                 : ""));
        transform.unit_ns = unit.duration_ns;
      } else if (parts.size() != 1 || parts[0].first == parts[0].second) {
        return ParseError(transform.kind + "() expects one field or aggregate");
      }
      transform.name = alias.empty() ? transform.kind : alias;
      alias = kTransformInner;
      b = parts[0].first;
      e = parts[0].second;
    }
    if (tokens[b].Is(TokenType::kOp, "*")) {  // *, *::field, *::tag
      size_t n = e - b;
      bool only_fields = n == 3 && tokens[b + 2].IsKeyword("field");
      bool only_tags = n == 3 && tokens[b + 2].IsKeyword("tag");
      if (n != 1 && !only_fields && !only_tags) return ParseError("unexpected tokens after *");
      any_raw = true;
      std::vector<std::string> names;
      if (!only_tags) names.insert(names.end(), fields.begin(), fields.end());
      if (!only_fields)
        for (const auto& t : tags)
          if (std::find(plan.group_tags.begin(), plan.group_tags.end(), t) == plan.group_tags.end())
            names.push_back(t);
      std::sort(names.begin(), names.end());
      for (const auto& n2 : names) outputs.push_back({QuoteIdent(n2), unique_name(n2)});
      continue;
    }
    if (IsAggregateCall(tokens, b, e) && MatchingParen(tokens, b + 1, e) == e - 1) {
      any_aggregate = true;
      std::string fn = AsciiLower(tokens[b].text);
      size_t arg_b = b + 2, arg_e = e - 1;
      std::string extra;  // percentile's second argument
      if (fn == "percentile") {
        auto args = SplitCommas(tokens, arg_b, arg_e);
        if (args.size() != 2 || args[1].second != args[1].first + 1 ||
            tokens[args[1].first].type != TokenType::kNumber)
          return ParseError(
              "percentile() expects a field and a number, e.g. percentile(usage, 95)");
        extra = tokens[args[1].first].text;
        arg_e = args[0].second;
      }
      if (fn == "count" && tokens[arg_b].IsKeyword("distinct"))
        return Status::Unimplemented("InfluxQL: count(distinct(…)) is not supported");
      std::vector<std::pair<std::string, std::string>> args;  // SQL, source name
      if (arg_e == arg_b + 1 && tokens[arg_b].Is(TokenType::kOp, "*")) {
        // As InfluxQL, mean(*) and the like skip the fields they cannot take.
        bool any_type = fn == "count" || fn == "first" || fn == "last" || fn == "mode";
        for (const auto& f : fields)
          if (any_type || numeric.count(f)) args.emplace_back(QuoteIdent(f), f);
      } else {
        RIFFLE_ASSIGN_OR_RETURN(std::string a, TranslateExpression(tokens, arg_b, arg_e, &known));
        args.emplace_back(a, "");
      }
      for (const auto& [a, source_name] : args) {
        std::string sql = AggregateSql(fn, a, extra);
        std::string name = !alias.empty() && args.size() == 1 ? alias
                           : source_name.empty()              ? fn
                                                              : fn + "_" + source_name;
        outputs.push_back({sql, unique_name(name)});
        if (kSelectors.count(fn)) {
          selector_functions.push_back(fn);
          selector_args.push_back(a);
        }
      }
      continue;
    }
    for (size_t i = b; i < e; ++i) {
      if (IsAggregateCall(tokens, i, e))
        return Status::Unimplemented("InfluxQL: arithmetic on aggregates is not supported");
      if (tokens[i].type == TokenType::kIdent && i + 1 < e &&
          tokens[i + 1].Is(TokenType::kOp, "(") &&
          !kScalarFunctions.count(AsciiLower(tokens[i].text)))
        return Status::Unimplemented("InfluxQL: function " + tokens[i].text +
                                     "() is not supported");
    }
    any_raw = true;
    RIFFLE_ASSIGN_OR_RETURN(std::string sql, TranslateExpression(tokens, b, e, &known));
    std::string name = alias;
    for (size_t i = b; name.empty() && i < e; ++i)
      if (IsName(tokens[i]) && !(i + 1 < e && tokens[i + 1].Is(TokenType::kOp, "(")))
        name = tokens[i].text;
    outputs.push_back({sql, unique_name(name.empty() ? "expr" : name)});
  }
  if (outputs.empty()) return ParseError("SELECT needs at least one field");
  if (any_aggregate && any_raw)
    return Status::InvalidArgument("mixing aggregate and non-aggregate queries is not supported");
  if (bucket_ns && !any_aggregate)
    return Status::InvalidArgument("GROUP BY requires at least one aggregate function");

  std::string where;
  if (clause.count("where")) {
    size_t w = clause["where"];
    RIFFLE_RETURN_IF_ERROR(CheckCondition(tokens, w + 1, clause_end(w)));
    RIFFLE_ASSIGN_OR_RETURN(where, TranslateExpression(tokens, w + 1, clause_end(w), &known));
    where = " WHERE " + where;
  }
  bool descending = false;
  if (clause.count("order")) {
    size_t o = clause["order"];
    size_t oe = clause_end(o);
    if (!tokens[o + 1].IsKeyword("BY") || o + 2 >= oe || !tokens[o + 2].IsKeyword("time"))
      return Status::Unimplemented("InfluxQL: only ORDER BY time [ASC|DESC] is supported");
    if (o + 3 < oe) {
      if (tokens[o + 3].IsKeyword("DESC"))
        descending = true;
      else if (!tokens[o + 3].IsKeyword("ASC"))
        return ParseError("expected ASC or DESC after ORDER BY time");
    }
  }
  auto integer_clause = [&](const char* kw) -> Result<std::string> {
    if (!clause.count(kw)) return std::string();
    size_t p = clause[kw];
    if (tokens[p + 1].type != TokenType::kNumber || clause_end(p) != p + 2)
      return ParseError(std::string("expected a number after ") + kw);
    RIFFLE_ASSIGN_OR_RETURN(int64_t n, ParseCount(tokens[p + 1].text, kw));
    return std::to_string(n);
  };
  RIFFLE_ASSIGN_OR_RETURN(std::string limit, integer_clause("limit"));
  RIFFLE_ASSIGN_OR_RETURN(std::string offset, integer_clause("offset"));

  // GROUP BY time()'s buckets: their width and where they start, for date_bin and fill().
  const std::string interval = IntervalSql(bucket_ns);
  std::string origin = "TIMESTAMP '1970-01-01 00:00:00'";
  if (bucket_offset_ns) origin += " + " + IntervalSql(bucket_offset_ns);
  std::string time_sql;
  std::vector<std::string> group_by;
  if (!any_aggregate) {
    time_sql = "\"time\"";
  } else if (bucket_ns) {
    time_sql = "date_bin(" + interval + ", \"time\", " + origin + ")";
    group_by.push_back("1");
  } else if (selector_functions.size() == 1) {
    // A lone selector reports the time of the point it selected.
    const std::string& fn = selector_functions[0];
    const std::string& a = selector_args[0];
    time_sql = fn == "first"  ? "min(\"time\") FILTER (WHERE " + a + " IS NOT NULL)"
               : fn == "last" ? "max(\"time\") FILTER (WHERE " + a + " IS NOT NULL)"
               : fn == "max"  ? "arg_max(\"time\", " + a + ")"
                              : "arg_min(\"time\", " + a + ")";
  } else {
    time_sql = "make_timestamp_ns(0)";
  }
  std::string sql = "SELECT " + time_sql + " AS \"time\"";
  for (const auto& o : outputs) sql += ", " + o.sql + " AS " + QuoteIdent(o.name);
  std::string tag_list;
  for (const auto& t : plan.group_tags) {
    sql += ", " + QuoteIdent(t);
    tag_list += (tag_list.empty() ? "" : ", ") + QuoteIdent(t);
    if (any_aggregate) group_by.push_back(QuoteIdent(t));
  }
  sql += " FROM " + QuoteIdent(plan.source.measurement) + where;
  if (!group_by.empty()) {
    sql += " GROUP BY ";
    for (size_t i = 0; i < group_by.size(); ++i) sql += (i ? ", " : "") + group_by[i];
  }
  if (!transform.kind.empty()) {
    if (outputs.size() != 1)
      return Status::Unimplemented("InfluxQL: " + transform.kind +
                                   "() must be the only field of the query");
    if (any_aggregate && !bucket_ns)
      return Status::InvalidArgument(transform.kind +
                                     "() of an aggregate requires a GROUP BY time() interval");
    // Consecutive points of a series (points without a value are skipped, as InfluxQL does);
    // the first point has no predecessor and gives no row.
    std::string v = QuoteIdent(kTransformInner);
    std::string change = "(" + v + " - __riffle_prev)";
    std::string value = transform.kind.find("derivative") == std::string::npos
                            ? change
                            : change +
                                  " / ((epoch_ns(\"time\") - epoch_ns(__riffle_prev_time)) / " +
                                  std::to_string(transform.unit_ns) + ".0)";
    std::string tags_out;
    for (const auto& t : plan.group_tags) tags_out += ", " + QuoteIdent(t);
    sql = "SELECT \"time\", " + value + " AS " + QuoteIdent(transform.name) + tags_out +
          " FROM (SELECT *, lag(" + v +
          ") OVER w AS __riffle_prev, lag(\"time\") OVER w AS __riffle_prev_time FROM (" + sql +
          ") WHERE " + v + " IS NOT NULL WINDOW w AS (" +
          (tag_list.empty() ? "" : "PARTITION BY " + tag_list + " ") +
          "ORDER BY \"time\")) WHERE __riffle_prev_time IS NOT NULL" +
          (transform.kind.rfind("non_negative", 0) == 0 ? " AND " + value + " >= 0" : "");
  } else if (bucket_ns && fill != Fill::kNone) {
    // Every bucket between the WHERE clause's time bounds (the data's first bucket without a
    // lower one; now() without an upper one), per series, empty ones filled.
    RIFFLE_ASSIGN_OR_RETURN(
        TimeBounds bounds,
        WhereTimeBounds(tokens, clause.count("where") ? clause["where"] + 1 : 0,
                        clause.count("where") ? clause_end(clause["where"]) : 0));
    std::string hi =
        bounds.hi.empty() ? "riffle_now()" : "(" + bounds.hi + ")::TIMESTAMPTZ::TIMESTAMP";
    if (bounds.hi.empty() || bounds.hi_inclusive)
      hi += " + INTERVAL '1 microsecond'";  // the end is excluded
    const int64_t max_span_us =
        static_cast<__int128>(bucket_ns / 1000) * kMaxFillBuckets > INT64_MAX
            ? INT64_MAX
            : bucket_ns / 1000 * kMaxFillBuckets;
    if (bounds.usable && fill_in_stream && !descending && limit.empty() && offset.empty()) {
      // The buckets with points, and what FilledStream needs to fill the others.
      std::string lo = bounds.lo.empty() ? "min(\"time\") OVER ()"
                                         : "(" + bounds.lo + ")::TIMESTAMPTZ::TIMESTAMP";
      FillPlan f;
      f.kind = fill == Fill::kNumber     ? FillPlan::Kind::kNumber
               : fill == Fill::kPrevious ? FillPlan::Kind::kPrevious
                                         : FillPlan::Kind::kNull;
      f.bucket_ns = bucket_ns;
      f.outputs = outputs.size();
      f.max_span_us = max_span_us;
      std::string select = "SELECT \"time\"";
      for (const auto& o : outputs) {
        std::string v = QuoteIdent(o.name);
        // As coalesce(v, n) types it in the SQL that fills: the output's type or wider.
        if (fill == Fill::kNumber) v = "coalesce(" + v + ", " + fill_value + ")";
        select += ", " + v + " AS " + QuoteIdent(o.name);
      }
      select += ", date_bin(" + interval + ", " + lo + ", " + origin + ") AS __riffle_lo, " + hi +
                " AS __riffle_hi";
      if (fill == Fill::kNumber)
        for (const auto& o : outputs)
          select +=
              ", coalesce(CASE WHEN false THEN " + QuoteIdent(o.name) + " END, " + fill_value + ")";
      for (const auto& t : plan.group_tags) select += ", " + QuoteIdent(t);
      sql = select + " FROM (" + sql + ")";
      plan.fill = f;
    } else if (bounds.usable) {
      std::string lo = bounds.lo.empty() ? "(SELECT min(\"time\") FROM agg)"
                                         : "(" + bounds.lo + ")::TIMESTAMPTZ::TIMESTAMP";
      // Past kMaxFillBuckets buckets per series only the buckets with points are listed. Two
      // branches of which one is empty, not a CASE over a scalar subquery: DuckDB plans the
      // subquery whichever branch is taken (about 1 ms of a 9 ms query).
      std::string too_many =
          "date_diff('microsecond', __riffle_lo, __riffle_hi) > " + std::to_string(max_span_us);
      std::string filled =
          "WITH agg AS (" + sql + "), bounds AS (SELECT date_bin(" + interval + ", " + lo + ", " +
          origin + ") AS __riffle_lo, " + hi +
          " AS __riffle_hi), buckets AS (SELECT unnest(range(__riffle_lo, __riffle_hi, " +
          interval + ")) AS \"time\" FROM bounds WHERE NOT (" + too_many +
          ") UNION ALL SELECT DISTINCT a.\"time\" FROM agg a, bounds WHERE " + too_many + ")";
      std::string from = " FROM buckets b";
      std::string on = "a.\"time\" = b.\"time\"";
      std::string select = "SELECT b.\"time\" AS \"time\"";
      if (!plan.group_tags.empty()) {
        filled += ", series AS (SELECT DISTINCT " + tag_list + " FROM agg)";
        from += " CROSS JOIN series g";
      }
      for (const auto& o : outputs) {
        std::string v = "a." + QuoteIdent(o.name);
        if (fill == Fill::kNumber) v = "coalesce(" + v + ", " + fill_value + ")";
        if (fill == Fill::kPrevious)
          v = "last_value(" + v + " IGNORE NULLS) OVER (" +
              (tag_list.empty() ? "" : "PARTITION BY " + GroupTagsOf("g", plan.group_tags) + " ") +
              "ORDER BY b.\"time\" ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)";
        select += ", " + v + " AS " + QuoteIdent(o.name);
      }
      for (const auto& t : plan.group_tags) {
        select += ", g." + QuoteIdent(t) + " AS " + QuoteIdent(t);
        on += " AND a." + QuoteIdent(t) + " IS NOT DISTINCT FROM g." + QuoteIdent(t);
      }
      // No point at all: no series, as InfluxQL answers.
      sql = filled + " SELECT * FROM (" + select + from + " LEFT JOIN agg a ON " + on +
            " WHERE EXISTS (SELECT 1 FROM agg))";
    }
  }
  std::string direction = descending ? " DESC" : " ASC";
  const bool plain_columns = std::all_of(outputs.begin(), outputs.end(), [](const Output& o) {
    return o.sql.size() > 2 && o.sql.front() == '"' && o.sql.back() == '"';
  });
  if (!plan.group_tags.empty() && !any_aggregate && transform.kind.empty() && limit == "1" &&
      offset.empty() && descending && plain_columns) {
    // The last point of each series as SQL asks for it, which the query engine answers from
    // the rows at each series' newest time, and over a whole table from only the files that
    // reach every series' newest time (query/last_point.h): the same cost as the SQL.
    // `sql` is the raw SELECT built above; the ORDER BY below (the tags, then time DESC) is the
    // one DISTINCT ON needs.
    sql.insert(std::string_view("SELECT ").size(), "DISTINCT ON (" + tag_list + ") ");
    limit.clear();
  } else if (!plan.group_tags.empty() && !any_aggregate && transform.kind.empty() && limit == "1" &&
             offset.empty()) {
    // The last (or first) point of each series, as dashboards ask: the newest time per series
    // from the time and tag columns alone, then only those rows, instead of numbering every row
    // in a window sorted over all columns (10× faster on 1M TSBS rows). Ties keep one row.
    std::string rows = QuoteIdent("__riffle_rows"), edge = QuoteIdent("__riffle_edge");
    std::string on = "r.\"time\" = e." + edge;
    std::string partition;
    for (const auto& t : plan.group_tags) {
      on += " AND r." + QuoteIdent(t) + " IS NOT DISTINCT FROM e." + QuoteIdent(t);
      partition += (partition.empty() ? "" : ", ") + ("r." + QuoteIdent(t));
    }
    sql = "SELECT * FROM (WITH " + rows + " AS NOT MATERIALIZED (" + sql + ") SELECT r.* FROM " +
          rows + " r JOIN (SELECT " + tag_list + ", " + (descending ? "max" : "min") +
          "(\"time\") AS " + edge + " FROM " + rows + " GROUP BY " + tag_list + ") e ON " + on +
          " QUALIFY row_number() OVER (PARTITION BY " + partition + " ORDER BY r.\"time\"" +
          direction + ") = 1)";
    limit.clear();
  }
  if (!plan.group_tags.empty() && (!limit.empty() || !offset.empty())) {
    // LIMIT and OFFSET count points per series.
    int64_t lo = offset.empty() ? 0 : std::strtoll(offset.c_str(), nullptr, 10);  // checked above
    std::string rank =
        "row_number() OVER (PARTITION BY " + tag_list + " ORDER BY \"time\"" + direction + ")";
    sql += " QUALIFY " + rank + " > " + std::to_string(lo);
    int64_t hi = INT64_MAX;
    if (!limit.empty() && __builtin_add_overflow(lo, std::strtoll(limit.c_str(), nullptr, 10), &hi))
      hi = INT64_MAX;
    if (!limit.empty()) sql += " AND " + rank + " <= " + std::to_string(hi);
    limit.clear();
    offset.clear();
  }
  sql += " ORDER BY " + (tag_list.empty() ? "" : tag_list + ", ") + "\"time\"" + direction;
  if (!limit.empty()) sql += " LIMIT " + limit;
  if (!offset.empty()) sql += " OFFSET " + offset;
  plan.sql = std::move(sql);
  return plan;
}

}  // namespace riffle::influxql
