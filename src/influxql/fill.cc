// GROUP BY time() series with their empty buckets filled in C++ (see FillPlan): the SQL that
// listed every bucket and joined the points to it cost as much as the aggregate itself.
#include <algorithm>

#include "influxql/select.h"

namespace riffle::influxql {
namespace {

using Tags = std::vector<std::pair<std::string, std::string>>;

struct Row {
  int64_t time;
  std::vector<query::Value> values;  // the outputs
};

struct SeriesRows {
  Tags tags;
  std::vector<Row> rows;  // ascending time, as the SQL orders them
};

// The whole result is read first: the buckets are those between bounds the rows carry, or,
// past FillPlan::max_span_us, the times of every series' points, which only the last row may
// add. The result of the aggregate is small next to what it read (a row per bucket and series).
class FilledSeries final : public SeriesStream {
 public:
  FilledSeries(std::unique_ptr<query::ResultStream> rows, std::string name,
               std::vector<std::string> group_tags, const FillPlan& fill)
      : rows_(std::move(rows)),
        name_(std::move(name)),
        group_tags_(std::move(group_tags)),
        fill_(fill) {
    const auto& names = rows_->column_names();
    columns_.assign(names.begin(), names.begin() + static_cast<long>(1 + fill_.outputs));
  }

  Result<bool> Next(Series* piece, bool* continues) override {
    if (!read_) {
      RIFFLE_RETURN_IF_ERROR(ReadAll());
      read_ = true;
    }
    if (next_ >= series_.size()) return false;
    SeriesRows& s = series_[next_++];
    *continues = false;
    piece->name = name_;
    piece->tags = std::move(s.tags);
    piece->columns = columns_;
    piece->values.clear();
    piece->values.reserve(buckets_.size());
    std::vector<query::Value> previous(fill_.outputs);  // fill(previous): last non-null
    size_t r = 0;
    for (int64_t t : buckets_) {
      // A row off the buckets (none should be) is left out, as the SQL's join left it out.
      while (r < s.rows.size() && s.rows[r].time < t) ++r;
      std::vector<query::Value> out;
      out.reserve(1 + fill_.outputs);
      out.emplace_back(query::Timestamp{t});
      bool have = r < s.rows.size() && s.rows[r].time == t;
      for (size_t k = 0; k < fill_.outputs; ++k) {
        query::Value v = have                                    ? std::move(s.rows[r].values[k])
                         : fill_.kind == FillPlan::Kind::kNumber ? fill_values_[k]
                                                                 : query::Value();
        if (fill_.kind == FillPlan::Kind::kPrevious) {
          if (std::holds_alternative<std::monostate>(v))
            v = previous[k];
          else
            previous[k] = v;
        }
        out.push_back(std::move(v));
      }
      if (have) ++r;
      piece->values.push_back(std::move(out));
    }
    return true;
  }

 private:
  static int64_t TimeOf(const query::Value& v, bool* ok) {
    const auto* t = std::get_if<query::Timestamp>(&v);
    *ok = t != nullptr;
    return t ? t->ns : 0;
  }

  Status ReadAll() {
    const size_t outputs = fill_.outputs, lo_col = 1 + outputs, hi_col = lo_col + 1;
    const size_t fill_col = hi_col + 1;
    const size_t tags_col = fill_col + (fill_.kind == FillPlan::Kind::kNumber ? outputs : 0);
    bool have_bounds = false;
    int64_t lo = 0, hi = 0;
    query::Batch batch;
    for (;;) {
      auto more = rows_->Next(&batch);
      if (!more.ok()) return more.status();
      if (!*more) break;
      for (size_t i = 0; i < batch.rows; ++i) {
        Tags tags = SeriesTagsAt(batch, i, tags_col, group_tags_);
        if (series_.empty() || series_.back().tags != tags)
          series_.push_back({std::move(tags), {}});
        bool ok = false;
        Row row{TimeOf(batch.at(i, 0), &ok), {}};
        if (!ok) continue;  // no bucket: the join found none for it
        for (size_t k = 0; k < outputs; ++k)
          row.values.push_back(std::move(batch.columns[1 + k][i]));
        series_.back().rows.push_back(std::move(row));
        if (!have_bounds) {
          bool lo_ok = false, hi_ok = false;
          lo = TimeOf(batch.at(i, lo_col), &lo_ok);
          hi = TimeOf(batch.at(i, hi_col), &hi_ok);
          // Bounds that evaluate to NULL list no bucket: no series, as range() gave none.
          if (!lo_ok || !hi_ok) {
            series_.clear();
            return Status::Ok();
          }
          have_bounds = true;
          if (fill_.kind == FillPlan::Kind::kNumber)
            for (size_t k = 0; k < outputs; ++k) fill_values_.push_back(batch.at(i, fill_col + k));
        }
      }
    }
    if (!have_bounds) {
      series_.clear();
      return Status::Ok();
    }
    // date_diff('microsecond', lo, hi) > max_span_us, as the SQL that fills decides.
    auto floor_us = [](int64_t ns) { return ns / 1000 - (ns % 1000 < 0 ? 1 : 0); };
    if (static_cast<__int128>(floor_us(hi)) - floor_us(lo) > fill_.max_span_us) {
      for (const auto& s : series_)
        for (const auto& row : s.rows) buckets_.push_back(row.time);
      std::sort(buckets_.begin(), buckets_.end());
      buckets_.erase(std::unique(buckets_.begin(), buckets_.end()), buckets_.end());
    } else {
      for (int64_t t = lo; t < hi;) {
        buckets_.push_back(t);
        if (__builtin_add_overflow(t, fill_.bucket_ns, &t)) break;
      }
    }
    return Status::Ok();
  }

  std::unique_ptr<query::ResultStream> rows_;
  std::string name_;
  std::vector<std::string> group_tags_, columns_;
  FillPlan fill_;
  bool read_ = false;
  std::vector<SeriesRows> series_;
  std::vector<int64_t> buckets_;
  std::vector<query::Value> fill_values_;  // fill(<number>), per output
  size_t next_ = 0;
};

}  // namespace

std::unique_ptr<SeriesStream> FilledStream(std::unique_ptr<query::ResultStream> rows,
                                           std::string name, std::vector<std::string> group_tags,
                                           const FillPlan& fill) {
  return std::make_unique<FilledSeries>(std::move(rows), std::move(name), std::move(group_tags),
                                        fill);
}

}  // namespace riffle::influxql
