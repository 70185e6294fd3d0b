#include "http/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

#include "common/log.h"

namespace riffle::http {
namespace {

namespace ssl = boost::asio::ssl;

// HTTP/1.1 whenever the client can speak it; h2 only for clients that offer nothing else
// (gRPC), and only when gRPC is served.
int SelectProtocol(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                   unsigned int in_len, void* offer_h2) {
  const unsigned char* h2 = nullptr;
  for (unsigned int i = 0; i < in_len;) {
    unsigned int len = in[i];
    if (i + 1 + len > in_len) break;
    std::string name(reinterpret_cast<const char*>(in + i + 1), len);
    if (name == "http/1.1") {
      *out = in + i + 1;
      *out_len = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    if (name == "h2") h2 = in + i + 1;
    i += 1 + len;
  }
  if (h2 && offer_h2) {
    *out = h2;
    *out_len = 2;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

std::string OpenSslError() {
  unsigned long code = ERR_get_error();
  if (code == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

}  // namespace

Result<std::shared_ptr<TlsContexts>> TlsContexts::Create(TlsFiles files, bool offer_h2) {
  if (files.min_version.empty()) files.min_version = "tls-1.2";
  if (files.min_version != "tls-1.2" && files.min_version != "tls-1.3")
    return Status::InvalidArgument("invalid --tls-minimum-version '" + files.min_version +
                                   "': expected tls-1.2 or tls-1.3");
  if (files.cert_file.empty() != files.key_file.empty())
    return Status::InvalidArgument(
        "--tls-cert and --tls-key go together: give both, or neither for plain HTTP");
  std::shared_ptr<TlsContexts> out(new TlsContexts(std::move(files), offer_h2));
  out->loaded_times_ = out->ModifiedTimes();
  RIFFLE_ASSIGN_OR_RETURN(out->current_, out->Load());
  out->last_check_ = std::chrono::steady_clock::now();
  return out;
}

std::pair<timespec, timespec> TlsContexts::ModifiedTimes() const {
  struct stat cert {
  }, key{};
  ::stat(files_.cert_file.c_str(), &cert);
  ::stat(files_.key_file.c_str(), &key);
  return {cert.st_mtim, key.st_mtim};
}

Result<std::shared_ptr<ssl::context>> TlsContexts::Load() const {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  ERR_clear_error();
  SSL_CTX_set_min_proto_version(native,
                                files_.min_version == "tls-1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                   ssl::context::single_dh_use);
  if (SSL_CTX_use_certificate_chain_file(native, files_.cert_file.c_str()) != 1)
    return Status::InvalidArgument("cannot load --tls-cert " + files_.cert_file + ": " +
                                   OpenSslError() + " (expected a PEM certificate chain)");
  if (SSL_CTX_use_PrivateKey_file(native, files_.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    std::string err = OpenSslError();
    if (err.find("mismatch") != std::string::npos)
      return Status::InvalidArgument("--tls-key " + files_.key_file +
                                     " does not match --tls-cert " + files_.cert_file +
                                     ": expected the private key of that certificate");
    return Status::InvalidArgument("cannot load --tls-key " + files_.key_file + ": " + err +
                                   " (expected a PEM private key)");
  }
  if (SSL_CTX_check_private_key(native) != 1)
    return Status::InvalidArgument("--tls-key " + files_.key_file + " does not match --tls-cert " +
                                   files_.cert_file);
  SSL_CTX_set_alpn_select_cb(native, SelectProtocol,
                             offer_h2_ ? reinterpret_cast<void*>(1) : nullptr);
  return ctx;
}

std::shared_ptr<ssl::context> TlsContexts::Current() {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (now - last_check_ < std::chrono::seconds(1)) return current_;
  last_check_ = now;
  auto times = ModifiedTimes();
  auto same = [](const timespec& a, const timespec& b) {
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
  };
  if (same(times.first, loaded_times_.first) && same(times.second, loaded_times_.second))
    return current_;
  loaded_times_ = times;
  auto reloaded = Load();
  if (!reloaded.ok()) {
    log::Warn("TLS certificate changed but does not load; still serving the previous one: " +
              reloaded.status().message());
    return current_;
  }
  log::Info("TLS certificate reloaded from " + files_.cert_file);
  current_ = std::move(reloaded).value();
  return current_;
}

std::string NegotiatedProtocol(SSL* ssl) {
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl, &data, &len);
  return data ? std::string(reinterpret_cast<const char*>(data), len) : std::string();
}

}  // namespace riffle::http
