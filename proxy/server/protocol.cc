#include "server/protocol.h"

#include <string>

#include "server/h1_conn.h"
#include "server/h2_conn.h"
#include "server/shard.h"

namespace askr::server {
namespace {

// A connection until its first bytes say which protocol it speaks. Over TLS, ALPN has decided
// by then; in cleartext nearly always the first byte does ('G', 'H', anything but 'P'; "PO" for
// POST), so it costs no copy: the bytes go on to the real connection, which takes this one's
// place on the shard's list.
class Sniffer final : public Connection, public net::TransportUser {
 public:
  Sniffer(Shard& shard, std::unique_ptr<net::Transport> transport, bool h2c)
      : shard_(shard), transport_(std::move(transport)), h2c_(h2c) {}

  void start(std::string_view) override {
    transport_->start(this);
    // A TLS handshake must end within handshake_timeout, then the first bytes come within
    // the header timeout, as on an HTTP/1.1 connection.
    (transport_->ready() ? shard_.header_timers : shard_.handshake_timers)
        .arm(&timer, shard_.now_ms());
    transport_->resume_recv();
  }
  void on_timeout() override { close(); }
  // Idle (nothing received on a connection ready for a request) is closed at once. A handshake
  // under way, or the start of a preface, goes on: the client connected before the listeners
  // closed, and its request is served as on any connection in flight (the drain timeout bounds
  // it).
  void drain() override {
    if (transport_->ready() && seen_.empty()) close();
  }
  void abort() override { close(); }

 private:
  void on_data(std::string_view data) override {
    std::string_view first = data;
    if (!seen_.empty()) first = seen_.append(data);
    Sniffed s = Sniffed::kHttp1;
    switch (choose_protocol(transport_->secure(), transport_->alpn(), h2c_)) {
      case Protocol::kHttp2:
        s = Sniffed::kHttp2;
        break;
      case Protocol::kSniff:
        s = sniff_preface(first);
        break;
      case Protocol::kHttp1:
        break;
    }
    if (s == Sniffed::kNeedMore) {
      if (seen_.empty()) seen_.assign(data);
      return;
    }
    Connection* next = s == Sniffed::kHttp2
                           ? static_cast<Connection*>(new H2Conn(shard_, std::move(transport_)))
                           : new H1Conn(shard_, std::move(transport_));
    std::string bytes = std::move(seen_);
    shard_.replace(this, next);  // unlinks this one; it is freed below
    next->start(bytes.empty() ? data : std::string_view(bytes));
    delete this;
  }
  void on_data_end(int) override { close(); }
  void on_sent(int) override {}
  void on_writable() override {}
  void on_readable() override {}
  void on_recv_stopped() override {}
  void on_ready() override { shard_.header_timers.arm(&timer, shard_.now_ms()); }
  // nginx's answer to a plain HTTP request on an HTTPS port, in plaintext, logged with its
  // request line as nginx logs it.
  std::string on_plain_http(std::string_view head) override {
    constexpr std::string_view kBody =
        "400 Bad Request\n"
        "The plain HTTP request was sent to HTTPS port\n";
    std::string answer = "HTTP/1.1 400 Bad Request\r\nServer: askr\r\n";
    answer += shard_.date_line();
    answer += "Content-Type: text/plain; charset=utf-8\r\nContent-Length: ";
    answer += std::to_string(kBody.size());
    answer += "\r\nConnection: close\r\n\r\n";
    answer += kBody;
    AccessLog& log = shard_.access_log();
    if (log.enabled()) {
      std::string_view line = head.substr(0, head.find('\n'));
      if (line.ends_with('\r')) line.remove_suffix(1);
      line = line.substr(0, shard_.cfg().limits.max_request_line);
      AccessEntry e{
          transport_->peer(), {}, {}, "HTTP/1.1", 400, kBody.size(), {}, {}, nullptr, line, {}};
      log.add(e, shard_.now_sec());
    }
    return answer;
  }
  void on_closed() override { shard_.release(this); }

  void close() {
    if (closed_) return;
    closed_ = true;
    loop::TimerList::unlink(&timer);
    transport_->close();
  }

  Shard& shard_;
  std::unique_ptr<net::Transport> transport_;
  std::string seen_;  // the first bytes, while they are a prefix of the preface
  bool h2c_;
  bool closed_ = false;
};

}  // namespace

Sniffed sniff_preface(std::string_view first) {
  size_t n = std::min(first.size(), kH2Preface.size());
  if (first.substr(0, n) != kH2Preface.substr(0, n)) return Sniffed::kHttp1;
  return n == kH2Preface.size() ? Sniffed::kHttp2 : Sniffed::kNeedMore;
}

Protocol choose_protocol(bool secure, std::string_view alpn, bool h2c) {
  if (alpn == "h2") return Protocol::kHttp2;
  if (secure || !h2c) return Protocol::kHttp1;
  return Protocol::kSniff;
}

Connection* make_connection(Shard& shard, std::unique_ptr<net::Transport> transport, bool h2c) {
  // Over TLS the ALPN answer is known after the handshake, with the first bytes.
  if (!transport->secure() && !h2c) return new H1Conn(shard, std::move(transport));
  return new Sniffer(shard, std::move(transport), h2c);
}

}  // namespace askr::server
