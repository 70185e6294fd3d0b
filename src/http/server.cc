// Boost.Beast HTTP/1.1 server: async sessions on a small thread pool. Handlers answer
// through a Reply callback, possibly later and from another thread (writes answer after
// the WAL flush), so no I/O thread ever blocks waiting for durability.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <atomic>
#include <utility>  // boost 1.74 asio needs std::exchange declared first
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <future>
#include <optional>
#include <string_view>
#include <thread>

#include "common/log.h"
#include "http/hangup_watcher.h"
#include "http/http.h"
#include "http/tls.h"

namespace riffle::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace ssl = boost::asio::ssl;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

namespace {

// How long a request may take to arrive, a response chunk to be taken, or a new connection
// to say anything: generous for slow links, finite for connections that hold a socket idle.
constexpr std::chrono::seconds kRequestTimeout{300};
constexpr std::chrono::seconds kFirstByteTimeout{60};
constexpr std::chrono::seconds kHandshakeTimeout{10};
constexpr std::chrono::seconds kCloseNotifyTimeout{5};

// One HTTP/1.1 connection, over plain TCP (beast::tcp_stream) or TLS (TlsStream).
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Stream stream, const ServerOptions& options, const Handler& handler, HangupWatcher& hangups,
          std::atomic<int>& busy)
      : stream_(std::move(stream)), options_(options), handler_(handler), hangups_(hangups), busy_(busy) {
    buffer_.reserve(1 << 20);  // a small default buffer makes large bodies many times slower
  }
  ~Session() {
    Unwatch();
    Idle();
  }

  void Start() {
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::Read, this->shared_from_this()));
  }

 private:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  tcp::socket& Socket() { return beast::get_lowest_layer(stream_).socket(); }

  void Unwatch() {
    if (watch_id_) hangups_.Unwatch(watch_id_);
    watch_id_ = 0;
  }
  // From a request read to its response written: what Server::Stop waits for.
  void Busy() {
    if (!busy_held_) busy_held_ = true, ++busy_;
  }
  void Idle() {
    if (busy_held_) busy_held_ = false, --busy_;
  }

  void Read() {
    Unwatch();  // the previous response is complete
    parser_.emplace();
    parser_->body_limit(options_.max_request_bytes);
    parser_->header_limit(64 * 1024);
    // A request (or a kept-alive connection's wait for the next one) has a bounded time to
    // arrive, so connections that trickle bytes (slow loris) or sit idle are not held forever.
    beast::get_lowest_layer(stream_).expires_after(kRequestTimeout);
    bhttp::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::OnRead, this->shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec == bhttp::error::end_of_stream || ec == net::error::connection_reset || ec == net::error::eof) {
      return Close();
    }
    Busy();
    beast::get_lowest_layer(stream_).expires_never();  // a handler may take as long as it needs
    if (ec == bhttp::error::body_limit) {
      keep_alive_ = false;
      return Send(Response::Error(413, "max request size (" + std::to_string(options_.max_request_bytes) +
                                           " bytes) exceeded"));
    }
    if (ec) {
      if (ec == bhttp::error::header_limit || ec == bhttp::error::bad_target || ec == bhttp::error::bad_method ||
          ec == bhttp::error::bad_version || ec == bhttp::error::bad_field || ec == bhttp::error::bad_value) {
        keep_alive_ = false;
        return Send(Response::Error(400, "malformed HTTP request: " + ec.message()));
      }
      return Close();
    }
    auto msg = parser_->release();
    keep_alive_ = msg.keep_alive();
    Request req;
    req.method = std::string(msg.method_string());
    std::string_view target(msg.target().data(), msg.target().size());
    size_t q = target.find('?');
    req.path = UrlDecode(target.substr(0, q), /*plus_as_space=*/false);
    if (q != std::string_view::npos) {
      req.raw_query = std::string(target.substr(q + 1));
      req.query = ParseQueryString(req.raw_query);
    }
    for (const auto& field : msg) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers[name] = std::string(field.value());
    }
    req.body = std::move(msg.body());
    // Until the response is complete, a client that hangs up is told to the handler.
    req.client = std::make_shared<ClientWatch>();
    watch_id_ = hangups_.Watch(Socket().native_handle(), req.client);
    auto self = this->shared_from_this();
    auto replied = std::make_shared<std::atomic<bool>>(false);
    // A reply given inside the handler (a query, a read) is sent at once on this thread; one
    // from another thread (a write's, after the WAL flush) is queued on the session's strand.
    // Posting in both cases woke another I/O thread for every request.
    Reply reply = [self, replied](Response response) {
      replied->store(true);
      net::dispatch(self->stream_.get_executor(),
                    [self, r = std::move(response)]() mutable { self->Send(std::move(r)); });
    };
    // A handler's unexpected exception fails its request, never the server.
    try {
      handler_(std::move(req), reply);
    } catch (const std::exception& e) {
      log::Error(std::string("request handler failed: ") + e.what());
      if (!replied->load()) reply(Response::Error(500, std::string("internal error: ") + e.what()));
    } catch (...) {
      log::Error("request handler failed with an unknown exception");
      if (!replied->load()) reply(Response::Error(500, "internal error"));
    }
  }

  void Send(Response r) {
    if (r.stream) return SendStream(std::move(r));
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(r.status));
    if (!r.content_type.empty()) res->set(bhttp::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) res->set(k, v);
    res->keep_alive(keep_alive_);
    res->body() = std::move(r.body);
    res->prepare_payload();
    auto self = this->shared_from_this();
    beast::get_lowest_layer(stream_).expires_after(kRequestTimeout);  // a client that stops reading
    bhttp::async_write(stream_, *res, [self, res](beast::error_code ec, size_t) {
      self->Idle();
      if (ec || !self->keep_alive_) return self->Close();
      self->Read();
    });
  }

  void SendStream(Response r) {
    auto res = std::make_shared<bhttp::response<bhttp::empty_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(r.status));
    if (!r.content_type.empty()) res->set(bhttp::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) res->set(k, v);
    res->keep_alive(keep_alive_);
    res->chunked(true);
    auto serializer = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*res);
    auto self = this->shared_from_this();
    beast::get_lowest_layer(stream_).expires_after(kRequestTimeout);
    bhttp::async_write_header(stream_, *serializer,
                              [self, res, serializer, body = std::move(r.stream)](beast::error_code ec, size_t) {
                                if (ec) return self->Idle(), self->Close();
                                self->SendChunks(body);
                              });
  }

  // Pieces are gathered up to a chunk of about 256 KiB, then written; the next chunk is
  // produced only once the client has taken this one, so a slow reader holds one chunk.
  void SendChunks(std::shared_ptr<BodyStream> body) {
    chunk_.clear();
    bool more = true;
    while (more && chunk_.size() < (256u << 10)) {
      auto next = body->Next(&chunk_);
      if (!next.ok()) {
        log::Error("query failed while its response was being sent: " + next.status().message());
        chunk_ += "\n" + Response::Error(500, next.status().message()).body + "\n";
        auto self = this->shared_from_this();
        net::async_write(stream_, bhttp::make_chunk(net::buffer(chunk_)),
                         [self](beast::error_code, size_t) { self->Abort(); });
        return;
      }
      more = *next;
    }
    auto self = this->shared_from_this();
    auto after = [self, body, more](beast::error_code ec, size_t) {
      if (ec) return self->Idle(), self->Close();
      if (more) return self->SendChunks(body);
      net::async_write(self->stream_, bhttp::make_chunk_last(), [self](beast::error_code ec, size_t) {
        self->Idle();
        if (ec || !self->keep_alive_) return self->Close();
        self->Read();
      });
    };
    if (chunk_.empty()) return after({}, 0);
    beast::get_lowest_layer(stream_).expires_after(kRequestTimeout);
    net::async_write(stream_, bhttp::make_chunk(net::buffer(chunk_)), std::move(after));
  }

  // Ends the connection without the terminating chunk: the client sees a truncated body.
  void Abort() {
    Idle();
    beast::error_code ec;
    Socket().shutdown(tcp::socket::shutdown_both, ec);
    Socket().close(ec);
  }

  void Close() {
    beast::error_code ec;
    if constexpr (kTls) {
      // close_notify first, so the client knows the response was whole; bounded, as a peer
      // that never answers it must not hold the connection.
      beast::get_lowest_layer(stream_).expires_after(kCloseNotifyTimeout);
      auto self = this->shared_from_this();
      stream_.async_shutdown([self](beast::error_code) {
        beast::error_code ignored;
        self->Socket().shutdown(tcp::socket::shutdown_send, ignored);
      });
    } else {
      Socket().shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  const ServerOptions& options_;
  const Handler& handler_;
  HangupWatcher& hangups_;
  std::atomic<int>& busy_;
  bool busy_held_ = false;
  uint64_t watch_id_ = 0;
  bool keep_alive_ = true;
  std::string chunk_;  // the chunk being written
};

void StartPlainSession(tcp::socket socket, const ServerOptions& options, const Handler& handler,
                       HangupWatcher& hangups, std::atomic<int>& busy) {
  std::make_shared<Session<beast::tcp_stream>>(beast::tcp_stream(std::move(socket)), options, handler, hangups, busy)
      ->Start();
}

}  // namespace

// A TLS connection that negotiated h2 (a gRPC client over https://): gRPC serves it through
// one end of a socket pair, and this pumps the decrypted bytes between the TLS stream and the
// other end, both ways, until either side ends.
class GrpcBridge : public std::enable_shared_from_this<GrpcBridge> {
 public:
  explicit GrpcBridge(TlsStream tls) : tls_(std::move(tls)), local_(tls_.get_executor()) {}

  void Start(const std::function<void(int fd)>& adopt_grpc) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
      log::Warn(std::string("cannot bridge a TLS gRPC connection: socketpair: ") + std::strerror(errno));
      return;
    }
    beast::error_code ec;
    local_.assign(net::local::stream_protocol(), fds[0], ec);
    if (ec) {
      ::close(fds[0]);
      ::close(fds[1]);
      return;
    }
    ::fcntl(fds[1], F_SETFL, ::fcntl(fds[1], F_GETFL) | O_NONBLOCK);
    adopt_grpc(fds[1]);  // gRPC owns that end from here on
    Up();
    Down();
  }

 private:
  void Up() {
    tls_.async_read_some(net::buffer(up_), [self = shared_from_this()](beast::error_code ec, size_t n) {
      if (ec) {
        beast::error_code ignored;
        self->local_.shutdown(net::socket_base::shutdown_send, ignored);
        return;
      }
      net::async_write(self->local_, net::buffer(self->up_, n), [self](beast::error_code ec, size_t) {
        if (!ec) self->Up();
      });
    });
  }
  void Down() {
    local_.async_read_some(net::buffer(down_), [self = shared_from_this()](beast::error_code ec, size_t n) {
      if (ec) {
        beast::error_code ignored;
        beast::get_lowest_layer(self->tls_).socket().shutdown(tcp::socket::shutdown_both, ignored);
        return;
      }
      net::async_write(self->tls_, net::buffer(self->down_, n), [self](beast::error_code ec, size_t) {
        if (!ec) self->Down();
      });
    });
  }

  TlsStream tls_;  // its SSL object holds a reference to the context it was made with
  net::local::stream_protocol::socket local_;
  std::array<char, 16384> up_, down_;
};

// The first bytes of a connection decide who serves it: the HTTP/2 prior-knowledge preface that
// every gRPC client sends goes to gRPC (Arrow Flight), anything else to the HTTP/1.1 session.
// The bytes are peeked, not read, so whichever side serves the connection reads them itself.
class ProtocolSniffer : public std::enable_shared_from_this<ProtocolSniffer> {
 public:
  static constexpr std::string_view kPreface{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"};

  ProtocolSniffer(tcp::socket socket, const ServerOptions& options, const Handler& handler, HangupWatcher& hangups,
                  std::atomic<int>& busy, std::shared_ptr<TlsContexts> tls)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        options_(options),
        handler_(handler),
        hangups_(hangups),
        busy_(busy),
        tls_(std::move(tls)) {}

  void Start() {
    deadline_.expires_after(kFirstByteTimeout);
    deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->decided_) return;
      beast::error_code ignored;
      self->socket_.close(ignored);  // silent for a minute: the pending wait ends and frees the socket
    });
    Wait();
  }

 private:
  void Wait() {
    socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return;  // closed before sending anything
      self->Peek();
    });
  }

  // The connection goes to its server: the first-byte deadline no longer applies.
  void Decided() {
    decided_ = true;
    deadline_.cancel();
  }

  void Peek() {
    char bytes[kPreface.size()];
    beast::error_code ec;
    size_t n = socket_.receive(net::buffer(bytes), tcp::socket::message_peek, ec);
    if (ec || n == 0) return Decided();  // the peer closed: nothing to serve
    bool preface_so_far = !tls_ && std::string_view(bytes, n) == kPreface.substr(0, n);
    // A prefix of the preface ("P" could also begin PUT or POST): the bytes stay queued, so
    // waiting for readability would return at once; poll instead, backing off from 1 ms to
    // 100 ms so that many such peers cost little, and after 2 s let HTTP/1.1 have it (it answers
    // a request or a clear 400, and has its own deadline).
    if (preface_so_far && n < kPreface.size() && polled_ms_ <= 2000) {
      int delay = std::min(100, 1 << std::min(polls_++, 7));
      polled_ms_ += delay;
      timer_.expires_after(std::chrono::milliseconds(delay));
      timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (!ec) self->Peek();
      });
      return;
    }
    Decided();
    if (tls_) return static_cast<unsigned char>(bytes[0]) == kTlsHandshake ? ServeTls() : ServePlainOnTlsPort();
    if (preface_so_far && n == kPreface.size()) return ServeGrpc();
    StartPlainSession(std::move(socket_), options_, handler_, hangups_, busy_);
  }

  // TLS: the handshake (bounded, so a client that stalls in it holds nothing for long), then
  // ALPN's choice: h2 to gRPC, anything else to an HTTP/1.1 session.
  void ServeTls() {
    auto stream = std::make_shared<TlsStream>(beast::tcp_stream(std::move(socket_)), *tls_->Current());
    beast::get_lowest_layer(*stream).expires_after(kHandshakeTimeout);
    stream->async_handshake(ssl::stream_base::server, [self = shared_from_this(), stream](beast::error_code ec) {
      if (ec) return;  // not TLS after all, a failed handshake or a timeout: the socket closes
      beast::get_lowest_layer(*stream).expires_never();
      if (NegotiatedProtocol(stream->native_handle()) == "h2" && self->options_.adopt_grpc) {
        std::make_shared<GrpcBridge>(std::move(*stream))->Start(self->options_.adopt_grpc);
        return;
      }
      std::make_shared<Session<TlsStream>>(std::move(*stream), self->options_, self->handler_, self->hangups_,
                                           self->busy_)
          ->Start();
    });
  }

  // Plain HTTP sent to a server that speaks TLS: an answer that says so, not a silent close.
  void ServePlainOnTlsPort() {
    static const Handler kUseHttps = [](Request&&, Reply reply) {
      reply(Response::Error(400, "this server speaks TLS: use https:// (started with --tls-cert)"));
    };
    StartPlainSession(std::move(socket_), options_, kUseHttps, hangups_, busy_);
  }

  static constexpr unsigned char kTlsHandshake = 0x16;  // the first byte of a ClientHello record

  void ServeGrpc() {
    beast::error_code ec;
    int fd = socket_.release(ec);  // gRPC owns and closes the descriptor from here on
    if (ec) return;
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    options_.adopt_grpc(fd);
  }

  tcp::socket socket_;
  net::steady_timer timer_;
  const ServerOptions& options_;
  const Handler& handler_;
  HangupWatcher& hangups_;
  std::atomic<int>& busy_;
  std::shared_ptr<TlsContexts> tls_;  // null: plain TCP
  net::steady_timer deadline_{socket_.get_executor()};
  bool decided_ = false;
  int polls_ = 0;
  int polled_ms_ = 0;
};

struct Server::Impl {
  ServerOptions options;
  Handler handler;
  HangupWatcher hangups;
  net::io_context ioc;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  int port = 0;
  std::atomic<int> busy{0};  // requests read and not yet answered
  std::shared_ptr<TlsContexts> tls;  // --tls-cert: every connection speaks TLS
  // Keeps the io threads running while a request waits for its reply from elsewhere (a write
  // waits for the WAL flush) with no socket operation pending, e.g. during Stop's drain.
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;

  void Accept() {
    acceptor->async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (!ec) {
        socket.set_option(tcp::no_delay(true), ec);
        if (options.adopt_grpc || tls)
          std::make_shared<ProtocolSniffer>(std::move(socket), options, handler, hangups, busy, tls)->Start();
        else
          StartPlainSession(std::move(socket), options, handler, hangups, busy);
      }
      if (!acceptor->is_open()) return;
      if (!ec && std::exchange(accept_failing_, false)) log::Info("accepting connections again");
      if (!ec || ec == net::error::connection_aborted) return Accept();
      // Out of descriptors (a connection flood) or memory: accepting again at once would spin
      // a core while the condition lasts, so wait a little; the backlog holds the rest. Logged
      // once per episode.
      if (!std::exchange(accept_failing_, true)) log::Warn("cannot accept connections: " + ec.message() + "; retrying");
      retry_->expires_after(std::chrono::milliseconds(50));
      retry_->async_wait([this](beast::error_code) {
        if (acceptor->is_open()) Accept();
      });
    });
  }
  std::optional<net::steady_timer> retry_;
  bool accept_failing_ = false;  // on the acceptor's strand only
};

Server::Server(ServerOptions options, Handler handler) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
}

Server::~Server() { Stop(); }

Status Server::Start() {
  if (!impl_->options.tls_cert.empty() || !impl_->options.tls_key.empty()) {
    auto tls = TlsContexts::Create({impl_->options.tls_cert, impl_->options.tls_key, impl_->options.tls_min_version},
                                   static_cast<bool>(impl_->options.adopt_grpc));
    if (!tls.ok()) return tls.status();
    impl_->tls = std::move(tls).value();
  }
  const std::string& bind = impl_->options.bind;
  size_t colon = bind.rfind(':');
  if (colon == std::string::npos)
    return Status::InvalidArgument("invalid --http-bind '" + bind + "': expected HOST:PORT, e.g. 0.0.0.0:8181");
  std::string host = bind.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  beast::error_code ec;
  auto address = net::ip::make_address(host, ec);
  if (ec) {
    tcp::resolver resolver(impl_->ioc);
    auto results = resolver.resolve(host, bind.substr(colon + 1), ec);
    if (ec || results.empty()) return Status::InvalidArgument("cannot resolve --http-bind host '" + host + "'");
    address = results.begin()->endpoint().address();
  }
  int port = 0;
  try {
    port = std::stoi(bind.substr(colon + 1));
  } catch (...) {
    return Status::InvalidArgument("invalid port in --http-bind '" + bind + "': expected a number");
  }
  tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  // On a strand of its own: Stop() closes it there, never while an accept handler re-arms it on
  // an io thread (a close from another thread raced that and crashed the server at SIGTERM).
  auto& acc = impl_->acceptor.emplace(net::make_strand(impl_->ioc));
  acc.open(endpoint.protocol(), ec);
  if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Status::IOError("cannot listen on " + bind + ": " + ec.message());
  impl_->port = acc.local_endpoint().port();
  impl_->retry_.emplace(acc.get_executor());
  impl_->Accept();
  impl_->work.emplace(impl_->ioc.get_executor());
  for (int i = 0; i < std::max(1, impl_->options.threads); ++i)
    impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  return Status::Ok();
}

void Server::Stop(std::chrono::milliseconds drain) {
  if (!impl_) return;
  if (impl_->acceptor && !impl_->threads.empty()) {
    auto closed = std::make_shared<std::promise<void>>();
    auto done = closed->get_future();
    net::dispatch(impl_->acceptor->get_executor(), [this, closed] {
      beast::error_code ec;
      impl_->acceptor->close(ec);
      closed->set_value();
    });
    done.wait_for(std::chrono::seconds(5));
  } else if (impl_->acceptor && impl_->acceptor->is_open()) {
    beast::error_code ec;
    impl_->acceptor->close(ec);
  }
  // Requests already read are answered (a write waits for its WAL flush) unless that takes
  // longer than `drain`.
  auto until = std::chrono::steady_clock::now() + drain;
  while (impl_->busy.load() > 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
  impl_->threads.clear();
}

int Server::port() const { return impl_->port; }

}  // namespace riffle::http
