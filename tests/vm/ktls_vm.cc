// Kernel TLS for real, run inside a VM whose kernel has the tls module (tests/vm/vm-run.sh).
// For TLS 1.2 and 1.3 with each cipher, on loopback: a client SSL (user space, socket BIO, its
// own thread) and a server SSL on memory BIOs, as the transport runs it, handshake; the client
// sends a record at once (so that the server's last read may hold it with the Finished); the
// server drains OpenSSL, switches the socket to kernel TLS with net/ktls (TX and RX), then
//   - sends many records of varying sizes with send() and a file with sendfile(), which the
//     client's OpenSSL must decrypt byte for byte;
//   - receives many records the client writes through a loop backend in TLS record mode
//     (io_uring multishot recvmsg, or epoll + recvmsg), with TLS_GET_RECORD_TYPE;
//   - TLS 1.2: sends close_notify, and sees the client's close_notify as end of stream;
//     TLS 1.3: sees the client's KeyUpdate surfaced as a handshake record (closes, per the
//     policy), then sends close_notify.
// /proc/net/tls_stat must show each connection in the kernel both ways and no decrypt error.
// Usage: askr_ktls_vm [RECORDS [MAX_RECORD [SENDFILE_MIB]]]; exit 0 when everything matched.
// ASKR_KTLS_VM_BREAK_SEQ=1 starts the kernel one record ahead: every case must then fail.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../support/tls_pair.h"
#include "loop/epoll_backend.h"
#include "loop/uring_backend.h"
#include "net/ktls.h"

namespace {

using namespace askr;
using net::ktls::Verdict;

int g_records = 10000;
int g_max_record = 1024;
size_t g_file_bytes = 10u << 20;

std::mutex g_mu;
std::string g_failure;

bool fail(const std::string& what) {
  std::lock_guard<std::mutex> l(g_mu);
  if (g_failure.empty()) g_failure = what;
  std::fprintf(stderr, "FAIL: %s\n", what.c_str());
  ERR_print_errors_fp(stderr);
  return false;
}

// The byte at offset i of stream `seed`: both sides compute it, so nothing is shipped twice.
inline char stream_byte(uint64_t i, uint32_t seed) {
  uint64_t x = (i + seed) * 0x9E3779B97F4A7C15ull;
  return static_cast<char>(x >> 56 ^ i >> 8);
}
std::string stream(uint64_t off, size_t n, uint32_t seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = stream_byte(off + i, seed);
  return s;
}
// Record sizes, the same sequence on both sides.
std::vector<size_t> record_sizes(uint32_t seed) {
  std::vector<size_t> v(g_records);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& s : v) {
    x = x * 1664525u + 1013904223u;
    // Mostly small records; every 64th is large, up to several full 16 KiB records.
    s = 1 + (x >> 8) % ((x & 63) == 0 ? 40000 : g_max_record);
  }
  return v;
}
size_t total(const std::vector<size_t>& v) {
  size_t t = 0;
  for (size_t s : v) t += s;
  return t;
}

std::map<std::string, long> tls_stat() {
  std::map<std::string, long> m;
  std::ifstream f("/proc/net/tls_stat");
  std::string k;
  long v;
  while (f >> k >> v) m[k] = v;
  return m;
}

bool send_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) return fail(std::string("send: ") + std::strerror(errno));
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// ---- the client: user-space OpenSSL on a socket BIO ----

bool client_read_exact(SSL* ssl, size_t n, uint64_t off, uint32_t seed, const char* what) {
  std::vector<char> buf(16384);
  size_t got = 0;
  while (got < n) {
    int r = SSL_read(ssl, buf.data(), static_cast<int>(std::min(buf.size(), n - got)));
    if (r <= 0)
      return fail(std::string("client: SSL_read in ") + what + " failed after " +
                  std::to_string(got) + " bytes, error " + std::to_string(SSL_get_error(ssl, r)));
    for (int i = 0; i < r; ++i) {
      if (buf[i] != stream_byte(off + got + i, seed))
        return fail(std::string("client: byte ") + std::to_string(got + i) + " of " + what +
                    " differs");
    }
    got += static_cast<size_t>(r);
  }
  return true;
}

void run_client(const test::TlsCase& tc, uint16_t port) {
  SSL_CTX* ctx = test::make_ctx(false, tc);
  SSL* ssl = SSL_new(ctx);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // As clients and Askr do: no Nagle delay between small records.
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  [&] {
    if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
      return (void)fail("client: connect");
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) return (void)fail("client: handshake");
    if (SSL_write(ssl, "hello", 5) != 5) return (void)fail("client: hello");
    auto tx = record_sizes(1);
    if (!client_read_exact(ssl, total(tx), 0, 1, "records")) return;
    if (!client_read_exact(ssl, g_file_bytes, 0, 2, "sendfile")) return;
    auto rx = record_sizes(3);
    uint64_t off = 0;
    for (size_t n : rx) {
      std::string m = stream(off, n, 3);
      if (SSL_write(ssl, m.data(), static_cast<int>(n)) != static_cast<int>(n))
        return (void)fail("client: SSL_write");
      off += n;
    }
    if (tc.version == TLS1_3_VERSION) {
      // The server's kernel surfaces this as a handshake record and the server closes.
      if (SSL_key_update(ssl, SSL_KEY_UPDATE_NOT_REQUESTED) != 1 || SSL_do_handshake(ssl) != 1)
        return (void)fail("client: KeyUpdate");
    }
    char c;
    int r = SSL_read(ssl, &c, 1);
    if (r != 0 || SSL_get_error(ssl, r) != SSL_ERROR_ZERO_RETURN)
      return (void)fail("client: expected the server's close_notify, got " + std::to_string(r) +
                        " error " + std::to_string(SSL_get_error(ssl, r)));
    if (tc.version == TLS1_2_VERSION && SSL_shutdown(ssl) < 0)
      return (void)fail("client: SSL_shutdown");
  }();
  shutdown(fd, SHUT_WR);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
}

// ---- the server: memory BIOs, then the kernel ----

// Writes what OpenSSL produced to the socket.
bool flush(BIO* out, int fd) {
  char buf[16384];
  int n;
  while ((n = BIO_read(out, buf, sizeof buf)) > 0)
    if (!send_all(fd, buf, static_cast<size_t>(n))) return false;
  return true;
}

bool server_handshake(SSL* ssl, BIO* in, BIO* out, int fd) {
  char buf[4096];
  for (;;) {
    int r = SSL_do_handshake(ssl);
    if (!flush(out, fd)) return false;
    if (r == 1) return true;
    if (SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ) return fail("server: handshake");
    ssize_t n = read(fd, buf, sizeof buf);  // may take the client's first record too
    if (n <= 0) return fail("server: read during handshake");
    BIO_write(in, buf, static_cast<int>(n));
  }
}

// Reads through OpenSSL until it holds no received byte: the precondition of the RX switch.
bool server_drain(SSL* ssl, BIO* in, int fd, std::string& plain) {
  char buf[4096];
  while (!net::ktls::rx_quiescent(ssl, in) || plain.size() < 5) {
    int r = SSL_read(ssl, buf, sizeof buf);
    if (r > 0) {
      plain.append(buf, r);
      continue;
    }
    if (SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ) return fail("server: SSL_read (drain)");
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return fail("server: read (drain)");
    BIO_write(in, buf, static_cast<int>(n));
  }
  return true;
}

// One recvmsg on the kTLS socket: bytes and the record type.
ssize_t recv_record(int fd, char* buf, size_t len, uint8_t& type) {
  iovec iov{buf, len};
  alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(uint8_t)) + 16];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctrl;
  msg.msg_controllen = sizeof ctrl;
  ssize_t n = recvmsg(fd, &msg, 0);
  type = net::ktls::record_type(msg).value_or(net::ktls::kApplicationData);
  return n;
}

// The RX phase through a loop backend (Backend::recv_tls_records): application data reaches
// on_recv, the close_notify or KeyUpdate that follows reaches on_recv_record.
struct RxConn : loop::IoObject {
  int version = 0;
  size_t want = 0, got = 0;
  std::vector<std::pair<uint8_t, std::string>> records;
  int end = 1;  // on_recv_end's error; 1 until then
  bool closed = false;

  void on_recv(std::string_view d) override {
    for (size_t i = 0; i < d.size(); ++i)
      if (d[i] != stream_byte(got + i, 3))
        return (void)fail("server: received byte " + std::to_string(got + i) + " differs");
    got += d.size();
    // TLS 1.2: all data in, so close; the client answers with its close_notify.
    if (got == want && version == TLS1_2_VERSION && net::ktls::send_close_notify(fd) != 0)
      fail("server: close_notify");
  }
  void on_recv_record(uint8_t type, std::string_view d) override {
    records.emplace_back(type, std::string(d));
  }
  void on_recv_end(int e) override { end = e; }
  void on_closed() override { closed = true; }
};

bool rx_with_backend(const test::TlsCase& tc, int fd, bool uring) {
  std::unique_ptr<loop::Backend> io;
  if (uring) {
    auto r = loop::UringBackend::create({});
    if (!r) return fail("io_uring backend: " + r.error().message);
    io = std::move(r.value());
  } else {
    auto r = loop::EpollBackend::create(16384);
    if (!r) return fail("epoll backend: " + r.error().message);
    io = std::move(r.value());
  }
  RxConn c;
  c.fd = dup(fd);  // the backend closes its own
  // Loop sockets are non-blocking (epoll reads until EAGAIN); the dup shares the flag.
  fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
  c.version = tc.version;
  c.want = total(record_sizes(3));
  io->recv_tls_records(&c);
  io->resume_recv(&c);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  auto done = [&] { return tc.version == TLS1_3_VERSION ? !c.records.empty() : c.end != 1; };
  while (!done() && g_failure.empty() && std::chrono::steady_clock::now() < deadline) io->poll(50);
  io->close(&c);
  while (!c.closed) io->poll(10);
  if (!g_failure.empty()) return false;
  if (c.got != c.want)
    return fail("server: " + std::string(io->name()) + " received " + std::to_string(c.got) +
                " of " + std::to_string(c.want) + " bytes");
  if (c.records.size() != 1)
    return fail("server: " + std::to_string(c.records.size()) + " non-data records, wanted 1");
  auto v = net::ktls::classify(c.records[0].first, c.records[0].second);
  if (tc.version == TLS1_3_VERSION) {
    if (v.verdict != Verdict::kClose || v.reason.find("KeyUpdate") == v.reason.npos)
      return fail("server: expected the client's KeyUpdate, got " + v.reason);
    std::printf("  %s: %s\n", io->name(), v.reason.c_str());
    return net::ktls::send_close_notify(fd) == 0 || fail("server: close_notify");
  }
  if (v.verdict != Verdict::kEndOfStream) return fail("server: expected close_notify: " + v.reason);
  if (c.end != 0)
    return fail("server: expected the end of the stream, got " + std::to_string(c.end));
  std::printf("  %s: data, then close_notify, then the end of the stream\n", io->name());
  return true;
}

bool server_session(const test::TlsCase& tc, int fd, int rx_backend) {
  SSL_CTX* ctx = test::make_ctx(true, tc);
  SSL* ssl = SSL_new(ctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);
  SSL_set_accept_state(ssl);
  bool ok = [&] {
    if (!net::ktls::Tracker::attach(ssl)) return fail("server: Tracker::attach");
    if (!server_handshake(ssl, in, out, fd)) return false;
    std::string hello;
    if (!server_drain(ssl, in, fd, hello)) return false;
    if (hello != "hello") return fail("server: hello was '" + hello + "'");
    auto keys = net::ktls::Tracker::get(ssl)->keys(ssl);
    if (!keys) return fail("server: keys: " + keys.error().message);
    // Proves that the test notices a wrong sequence number: the client must then fail.
    if (std::getenv("ASKR_KTLS_VM_BREAK_SEQ")) ++keys->tx.seq;
    // The epoll cases switch in two steps, TX then RX with the keys taken again, as a
    // transport does that switches TX at once and RX once its receive has stopped.
    auto r = net::ktls::enable(fd, *keys, rx_backend == 2 ? net::ktls::kTx : net::ktls::kBoth);
    if (rx_backend == 2 && r.dirs == net::ktls::kTx) {
      auto again = net::ktls::Tracker::get(ssl)->keys(ssl);
      if (!again) return fail("server: keys again: " + again.error().message);
      auto rx = net::ktls::enable(fd, *again, net::ktls::kRx);
      r.dirs |= rx.dirs;
      r.error = rx.error;
    }
    if (r.dirs != net::ktls::kBoth)
      return fail(std::string("server: enable gave ") + net::ktls::direction_name(r.dirs) + ": " +
                  r.error.message);
    std::printf("  switched at tx seq %llu, rx seq %llu\n", (unsigned long long)keys->tx.seq,
                (unsigned long long)keys->rx.seq);

    // TX: many records, then a file.
    auto tx = record_sizes(1);
    std::string all = stream(0, total(tx), 1);
    size_t off = 0;
    for (size_t n : tx) {
      if (!send_all(fd, all.data() + off, n)) return false;
      off += n;
    }
    std::string path = "/tmp/ktls-sendfile";
    {
      std::ofstream f(path, std::ios::binary);
      f << stream(0, g_file_bytes, 2);
    }
    int file = open(path.c_str(), O_RDONLY);
    off_t foff = 0;
    while (static_cast<size_t>(foff) < g_file_bytes) {
      ssize_t n = sendfile(fd, file, &foff, g_file_bytes - foff);
      if (n <= 0) return fail(std::string("server: sendfile: ") + std::strerror(errno));
    }
    close(file);
    unlink(path.c_str());

    if (rx_backend) return rx_with_backend(tc, fd, rx_backend == 1);
    // RX: many records, each byte checked; then what follows them.
    auto rx = record_sizes(3);
    size_t want = total(rx), got = 0;
    std::vector<char> buf(65536);
    uint8_t type;
    while (got < want) {
      ssize_t n = recv_record(fd, buf.data(), std::min(buf.size(), want - got), type);
      if (n <= 0) return fail(std::string("server: recvmsg: ") + std::strerror(errno));
      if (type != net::ktls::kApplicationData) return fail("server: non-data record mid-stream");
      for (ssize_t i = 0; i < n; ++i)
        if (buf[i] != stream_byte(got + i, 3))
          return fail("server: received byte " + std::to_string(got + i) + " differs");
      got += static_cast<size_t>(n);
    }
    if (tc.version == TLS1_3_VERSION) {
      ssize_t n = recv_record(fd, buf.data(), buf.size(), type);
      auto v = net::ktls::classify(type, std::string_view(buf.data(), n > 0 ? n : 0));
      if (n <= 0 || v.verdict != Verdict::kClose || v.reason.find("KeyUpdate") == v.reason.npos)
        return fail("server: expected the client's KeyUpdate, got type " + std::to_string(type) +
                    " (" + v.reason + ")");
      std::printf("  %s\n", v.reason.c_str());
      if (net::ktls::send_close_notify(fd) != 0) return fail("server: close_notify");
      return true;
    }
    if (net::ktls::send_close_notify(fd) != 0) return fail("server: close_notify");
    ssize_t n = recv_record(fd, buf.data(), buf.size(), type);
    if (n <= 0 ||
        net::ktls::classify(type, std::string_view(buf.data(), n)).verdict != Verdict::kEndOfStream)
      return fail("server: expected the client's close_notify, got type " + std::to_string(type));
    if (recv_record(fd, buf.data(), buf.size(), type) != 0)
      return fail("server: expected the end of the stream");
    return true;
  }();
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return ok;
}

// rx_backend: 0 reads with recvmsg here, 1 through the io_uring backend, 2 through epoll.
bool run_case(const test::TlsCase& tc, int rx_backend) {
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (bind(ls, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(ls, 1) != 0 ||
      getsockname(ls, reinterpret_cast<sockaddr*>(&sa), &len) != 0)
    return fail("listen");
  std::thread client(run_client, tc, ntohs(sa.sin_port));
  int fd = accept(ls, nullptr, nullptr);
  close(ls);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  bool ok = fd >= 0 && server_session(tc, fd, rx_backend);
  if (!ok) shutdown(fd, SHUT_RDWR);  // unblock the client
  client.join();
  close(fd);
  return ok && g_failure.empty();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) g_records = std::atoi(argv[1]);
  if (argc > 2) g_max_record = std::atoi(argv[2]);
  if (argc > 3) g_file_bytes = static_cast<size_t>(std::atoi(argv[3])) << 20;
  const auto& probe = net::ktls::probe();
  std::printf("kTLS probe: %s\n", probe.summary().c_str());
  if (!probe.ulp) return 1;
  auto before = tls_stat();
  int failed = 0;
  int i = 0;
  for (const auto& tc : test::kTlsCases) {
    auto t0 = std::chrono::steady_clock::now();
    // Receiving alternates between the io_uring and the epoll backend, so that each sees TLS
    // 1.2 and 1.3, close_notify and KeyUpdate; ASKR_KTLS_VM_PLAIN_RX reads with recvmsg here.
    int rx_backend = std::getenv("ASKR_KTLS_VM_PLAIN_RX") ? 0 : 1 + i++ % 2;
    std::printf("%s: %d records each way (mostly 1..%d bytes), %zu MiB sendfile, rx via %s\n",
                tc.name, g_records, g_max_record, g_file_bytes >> 20,
                rx_backend == 0   ? "recvmsg"
                : rx_backend == 1 ? "io_uring"
                                  : "epoll");
    bool ok = run_case(tc, rx_backend);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s: %s in %.1f s\n", tc.name, ok ? "ok" : "FAILED", s);
    std::fflush(stdout);
    if (!ok) ++failed;
    g_failure.clear();
  }
  auto after = tls_stat();
  for (const char* k : {"TlsTxSw", "TlsRxSw", "TlsDecryptError", "TlsRxNoPadViolation"})
    std::printf("/proc/net/tls_stat %s: %ld -> %ld\n", k, before[k], after[k]);
  long n = static_cast<long>(std::size(test::kTlsCases));
  if (after["TlsTxSw"] - before["TlsTxSw"] != n || after["TlsRxSw"] - before["TlsRxSw"] != n) {
    std::printf("FAIL: tls_stat does not show %ld connections in the kernel both ways\n", n);
    ++failed;
  }
  if (after["TlsDecryptError"] != before["TlsDecryptError"]) {
    std::printf("FAIL: the kernel saw decrypt errors\n");
    ++failed;
  }
  std::printf("%s\n", failed ? "ktls_vm: FAILED" : "ktls_vm: all cases passed");
  return failed ? 1 : 0;
}
