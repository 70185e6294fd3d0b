// Delete predicates and times as the delete APIs take them.
#include "rowdelete/predicate.h"

#include <cctype>
#include <charconv>

namespace riffle::rowdelete {
namespace {

constexpr const char* kExpected =
    "expected tag = \"value\" comparisons joined by AND, e.g. host = \"a\" AND region = 'us'";

class PredicateReader {
 public:
  explicit PredicateReader(std::string_view text) : text_(text) {}

  void SkipSpace() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ >= text_.size();
  }
  // A quoted string ("..." or '...', backslash escapes) or, for keys, a bare word.
  Result<std::string> Word(bool bare_allowed, const char* what) {
    SkipSpace();
    if (pos_ >= text_.size()) return Error(std::string("expected ") + what + " at the end");
    char quote = text_[pos_];
    if (quote == '"' || quote == '\'') {
      std::string out;
      for (size_t i = pos_ + 1; i < text_.size(); ++i) {
        char c = text_[i];
        if (c == '\\' && i + 1 < text_.size()) {
          out.push_back(text_[++i]);
        } else if (c == quote) {
          pos_ = i + 1;
          return out;
        } else {
          out.push_back(c);
        }
      }
      return Error(std::string("unterminated ") + quote + " in " + what);
    }
    size_t start = pos_;
    while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) ||
                                   text_[pos_] == '_' || text_[pos_] == '-' || text_[pos_] == '.'))
      ++pos_;
    if (pos_ == start) return Error(std::string("expected ") + what + ", found '" + Rest() + "'");
    std::string word(text_.substr(start, pos_ - start));
    if (!bare_allowed)
      return Error(std::string("expected ") + what + " in quotes, found " + word +
                   " (only tags can be compared, and tags hold strings)");
    return word;
  }
  Status Expect(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c && !(c == '=' && Peek(1) == '=')) {
      ++pos_;
      return Status::Ok();
    }
    if (pos_ < text_.size() && (text_[pos_] == '!' || text_[pos_] == '<' || text_[pos_] == '>'))
      return Error("operator '" + Rest().substr(0, 2) + "' is not supported, only =");
    return Error(std::string("expected '") + c + "', found '" + Rest() + "'");
  }
  // AND between comparisons (any case); OR and others are refused by name.
  Status And() {
    SkipSpace();
    size_t start = pos_;
    while (pos_ < text_.size() && std::isalpha(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    std::string word(text_.substr(start, pos_ - start));
    for (char& c : word) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (word == "AND") return Status::Ok();
    if (word == "OR" || word == "NOT" || word == "IN") return Error(word + " is not supported");
    pos_ = start;
    return Error("expected AND, found '" + Rest() + "'");
  }
  Status Error(const std::string& what) const {
    return Status::InvalidArgument("delete predicate '" + std::string(text_) + "': " + what + "; " +
                                   kExpected);
  }

 private:
  char Peek(size_t ahead) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }
  std::string Rest() const { return std::string(text_.substr(pos_, 20)); }
  std::string_view text_;
  size_t pos_ = 0;
};

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool Digits(std::string_view s, size_t pos, size_t n, int64_t* out) {
  if (pos + n > s.size()) return false;
  int64_t v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

Result<TagEquals> ParsePredicate(std::string_view text, std::string* measurement) {
  PredicateReader in(text);
  TagEquals tags;
  if (in.AtEnd()) return tags;
  for (;;) {
    RIFFLE_ASSIGN_OR_RETURN(std::string key, in.Word(true, "a tag name"));
    if (key.empty()) return in.Error("a tag name is empty");
    RIFFLE_RETURN_IF_ERROR(in.Expect('='));
    RIFFLE_ASSIGN_OR_RETURN(std::string value, in.Word(false, "a value"));
    if (key == "_measurement") {
      if (!measurement) return in.Error("_measurement is InfluxDB 2's; name the table instead");
      if (!measurement->empty() && *measurement != value)
        return in.Error("two different _measurement values");
      *measurement = value;
    } else if (key == "_field" || key == "time") {
      return in.Error(key + " cannot be compared: rows are deleted by table, tags and time range");
    } else {
      for (const auto& [k, v] : tags)
        if (k == key && v != value) return in.Error("tag '" + key + "' compared with two values");
      tags.emplace_back(std::move(key), std::move(value));
    }
    if (in.AtEnd()) return tags;
    RIFFLE_RETURN_IF_ERROR(in.And());
  }
}

Result<int64_t> ParseTime(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("time '" + std::string(text) +
                                   "': expected RFC 3339 (e.g. 2024-01-02T03:04:05Z or 2024-01-02) "
                                   "or integer nanoseconds since the epoch");
  };
  if (text.empty()) return bad();
  int64_t ns = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ns);
  if (ec == std::errc() && end == text.data() + text.size()) return ns;
  int64_t y, mo, d, h = 0, mi = 0, s = 0, frac = 0;
  if (!Digits(text, 0, 4, &y) || text.size() < 10 || text[4] != '-' || !Digits(text, 5, 2, &mo) ||
      text[7] != '-' || !Digits(text, 8, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > 31)
    return bad();
  size_t pos = 10;
  int64_t offset_s = 0;
  if (pos < text.size()) {
    if ((text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ') ||
        !Digits(text, pos + 1, 2, &h) || text.size() < pos + 9 || text[pos + 3] != ':' ||
        !Digits(text, pos + 4, 2, &mi) || text[pos + 6] != ':' || !Digits(text, pos + 7, 2, &s) ||
        h > 23 || mi > 59 || s > 60)
      return bad();
    pos += 9;
    if (pos < text.size() && text[pos] == '.') {
      size_t digits = 0;
      for (++pos; pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])); ++pos) {
        if (digits++ < 9) frac = frac * 10 + (text[pos] - '0');
      }
      if (digits == 0) return bad();
      for (; digits < 9; ++digits) frac *= 10;
    }
    if (pos >= text.size()) return bad();  // a zone is required with a time of day
    if (text[pos] == 'Z' || text[pos] == 'z') {
      ++pos;
    } else if (text[pos] == '+' || text[pos] == '-') {
      int64_t oh, om;
      if (!Digits(text, pos + 1, 2, &oh) || text.size() < pos + 6 || text[pos + 3] != ':' ||
          !Digits(text, pos + 4, 2, &om))
        return bad();
      offset_s = (oh * 3600 + om * 60) * (text[pos] == '-' ? -1 : 1);
      pos += 6;
    } else {
      return bad();
    }
    if (pos != text.size()) return bad();
  }
  int64_t seconds = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 +
                    h * 3600 + mi * 60 + s - offset_s;
  if (seconds > INT64_MAX / 1'000'000'000 - 1 || seconds < INT64_MIN / 1'000'000'000 + 1)
    return bad();
  return seconds * 1'000'000'000 + frac;
}

}  // namespace riffle::rowdelete
