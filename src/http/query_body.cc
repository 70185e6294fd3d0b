#include "http/query_body.h"

#include <cstdio>
#include <filesystem>

namespace riffle::http {

Status EncodedResultBody::Prime() {
  auto more = result_->Next(&batch_);
  if (!more.ok()) return more.status();
  pending_ = *more;
  return Status::Ok();
}

Result<bool> EncodedResultBody::Next(std::string* out) {
  if (!begun_) {
    begun_ = true;
    encoder_->Begin(result_->column_names(), out);
  }
  if (pending_) {
    pending_ = false;
    encoder_->Add(batch_, out);
    return true;
  }
  if (!result_) return false;
  auto more = result_->Next(&batch_);
  if (!more.ok()) return more.status();
  if (*more) {
    encoder_->Add(batch_, out);
    return true;
  }
  result_.reset();
  encoder_->End(out);
  return false;
}

namespace {

class FileStream final : public BodyStream {
 public:
  explicit FileStream(std::FILE* f) : f_(f) {}
  ~FileStream() override { std::fclose(f_); }
  Result<bool> Next(std::string* out) override {
    size_t base = out->size();
    out->resize(base + (1 << 20));
    size_t n = std::fread(out->data() + base, 1, 1 << 20, f_);
    out->resize(base + n);
    if (n == 0 && std::ferror(f_)) return Status::IOError("cannot read the query's Parquet result");
    return n > 0;
  }

 private:
  std::FILE* f_;
};

}  // namespace

Result<std::shared_ptr<BodyStream>> FileBody(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  std::error_code ec;
  std::filesystem::remove(path, ec);
  if (!f) return Status::IOError("cannot open the query's Parquet result");
  return std::shared_ptr<BodyStream>(std::make_shared<FileStream>(f));
}

}  // namespace riffle::http
