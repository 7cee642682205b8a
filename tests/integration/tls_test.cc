// TLS termination: curl and openssl s_client against askr-proxy on a TLS listener, on both I/O
// backends. Certificates are made at test time with the openssl CLI. Covers static files and
// PHP over TLS 1.2 and 1.3, SNI (exact, wildcard, default), ECDSA vs RSA, refused protocol
// versions and renegotiation, ticket resumption across loops, ALPN, the handshake timeout,
// garbage and plain HTTP on the TLS port, redirect_https, certificate reload on SIGHUP, and
// config errors.
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <regex>
#include <thread>

#include "fixture.h"
#include "php_harness.h"

namespace askr::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Cert {
  std::string pem;
  std::string key;
};

// A self-signed certificate for `cn` (and its subjectAltName), RSA 2048 or ECDSA P-256.
Cert make_cert(const TempDir& dir, const std::string& name, const std::string& cn, bool ecdsa) {
  Cert c{dir.path() + "/" + name + ".pem", dir.path() + "/" + name + ".key"};
  std::string key = ecdsa ? "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1" : "-newkey rsa:2048";
  std::string out;
  int rc = run_command("openssl req -x509 " + key + " -nodes -days 2 -keyout " + c.key + " -out " +
                           c.pem + " -subj '/CN=" + cn + "' -addext 'subjectAltName=DNS:" + cn +
                           "' 2>&1",
                       out);
  EXPECT_EQ(rc, 0) << out;
  return c;
}

// What the shell commands `input` print goes to s_client's stdin; its output (stdout and
// stderr) comes back.
std::string s_client(int port, const std::string& args, const std::string& input = "true") {
  std::string out;
  run_command("(" + input + ") | timeout 10 openssl s_client -connect 127.0.0.1:" +
                  std::to_string(port) + " " + args + " 2>&1",
              out);
  return out;
}

// The subject CN of the certificate served for `sni` ("": no SNI), or "none: " and what
// s_client said.
std::string served_subject(int port, const std::string& sni = "") {
  std::string out = s_client(port, sni.empty() ? "-noservername" : "-servername " + sni);
  std::smatch m;
  std::regex re("subject=CN ?= ?([^\\n]+)");
  return std::regex_search(out, m, re) ? m[1].str() : "none: " + out;
}

// The serial number of the certificate served without SNI ("serial=..."), and of a file.
std::string served_serial(int port) {
  std::string out;
  run_command("timeout 10 openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
                  " -noservername </dev/null 2>/dev/null | openssl x509 -noout -serial",
              out);
  return out;
}
std::string file_serial(const std::string& pem) {
  std::string out;
  run_command("openssl x509 -noout -serial -in " + pem, out);
  return out;
}

// A TLS client on a blocking socket, for a connection that lives across a reload.
class TlsClient {
 public:
  // `handshake` false: sends the ClientHello only; finish_handshake() does the rest.
  explicit TlsClient(int port, bool handshake = true)
      : ctx_(SSL_CTX_new(TLS_client_method())), fd_(connect_to(port)) {
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_msg_callback(ssl_, on_message);
    SSL_set_msg_callback_arg(ssl_, this);
    if (handshake) {
      ok_ = SSL_connect(ssl_) == 1;
      return;
    }
    BIO* rbio = BIO_new(BIO_s_mem());  // nothing to read yet: SSL_connect stops after writing
    SSL_set0_rbio(ssl_, rbio);
    SSL_connect(ssl_);
  }
  // After a ClientHello alone: waits until the server answers it (it is mid-handshake then),
  // then completes the handshake on the socket.
  bool finish_handshake() {
    SSL_set_fd(ssl_, fd_);
    return ok_ = SSL_connect(ssl_) == 1;
  }
  bool server_answered_hello() const {
    pollfd p{fd_, POLLIN, 0};
    return poll(&p, 1, 5000) == 1;
  }
  ~TlsClient() {
    SSL_free(ssl_);
    close(fd_);
    SSL_CTX_free(ctx_);
  }
  bool ok() const { return ok_; }
  // "/CN=..." of the server's certificate.
  std::string subject() const {
    X509* cert = SSL_get1_peer_certificate(ssl_);
    if (!cert) return "";
    char buf[256];
    X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
    X509_free(cert);
    return buf;
  }
  // Sends `request` and reads until the connection ends; `close_notify` says whether it ended
  // with the server's close_notify (a proper end) rather than a bare TCP close.
  std::string request_to_end(const std::string& request, bool& close_notify) {
    close_notify = false;
    if (SSL_write(ssl_, request.data(), int(request.size())) != int(request.size())) return "";
    std::string in;
    char buf[4096];
    for (int n; (n = SSL_read(ssl_, buf, sizeof buf)) > 0;) in.append(buf, size_t(n));
    close_notify = SSL_get_error(ssl_, 0) == SSL_ERROR_ZERO_RETURN;
    return in;
  }
  bool send(const std::string& bytes) {
    return SSL_write(ssl_, bytes.data(), int(bytes.size())) == int(bytes.size());
  }
  // A keep-alive GET on this connection; the body of the response ("" on failure).
  std::string get(const std::string& path) {
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
    if (SSL_write(ssl_, req.data(), int(req.size())) != int(req.size())) return "";
    std::string in;
    size_t head_end = std::string::npos, want = 0;
    char buf[4096];
    while (head_end == std::string::npos || in.size() < head_end + want) {
      int n = SSL_read(ssl_, buf, sizeof buf);
      if (n <= 0) return "";
      in.append(buf, size_t(n));
      if (head_end == std::string::npos && (head_end = in.find("\r\n\r\n")) != std::string::npos) {
        head_end += 4;
        std::smatch m;
        std::string head = in.substr(0, head_end);
        if (!std::regex_search(head, m, std::regex("[Cc]ontent-[Ll]ength: *(\\d+)"))) return "";
        want = std::stoul(m[1]);
      }
    }
    return in.substr(head_end, want);
  }
  // TLS 1.3: the next record is sent under new keys, and the server is asked to update its own.
  bool key_update() { return SSL_key_update(ssl_, SSL_KEY_UPDATE_REQUESTED) == 1; }
  // KeyUpdate messages the server has sent so far (read with the records that followed them).
  int key_updates_received() const { return key_updates_; }

 private:
  static void on_message(int write_p, int, int content_type, const void* buf, size_t len, SSL*,
                         void* arg) {
    auto* self = static_cast<TlsClient*>(arg);
    if (!write_p && content_type == SSL3_RT_HANDSHAKE && len > 0 &&
        *static_cast<const uint8_t*>(buf) == SSL3_MT_KEY_UPDATE)
      ++self->key_updates_;
  }

  SSL_CTX* ctx_;
  int fd_;
  SSL* ssl_ = nullptr;
  bool ok_ = false;
  int key_updates_ = 0;
};

std::string curl(const std::string& args) {
  std::string out;
  run_command("curl -sk --max-time 20 " + args + " 2>&1", out);
  return out;
}

std::string url(int port, const std::string& path) {
  return "https://127.0.0.1:" + std::to_string(port) + path;
}

// The sum over the loops of one counter from the "loop N: tls: ..." lines written at stop.
uint64_t tls_counter(const std::string& log, const std::string& name) {
  std::regex re("(\\d+) " + name + "[,\\n]");
  uint64_t sum = 0;
  size_t at = 0;
  while ((at = log.find(": tls: ", at)) != std::string::npos) {
    std::string line = log.substr(at, log.find('\n', at) - at + 1);
    std::smatch m;
    if (std::regex_search(line, m, re)) sum += std::stoull(m[1]);
    ++at;
  }
  return sum;
}

class Tls : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (skip_backend(GetParam())) GTEST_SKIP() << "io_uring is not usable here";
    write_test_site(site_);
    std::string big;
    for (int i = 0; big.size() < 5u << 20; ++i)
      big += "line " + std::to_string(i) + " of a large file\n";
    big_ = big;
    site_.write("www/big.txt", big_);
    main_ = make_cert(site_, "default", "default.test", false);
  }
  // The proxy exits cleanly, and (under ASan/UBSan) reported nothing.
  void TearDown() override {
    if (!proxy_) return;
    int rc = proxy_->stop();
    if (rc != -1) {
      EXPECT_EQ(rc, 0);
    }
    std::string log = proxy_->error_log();
    EXPECT_EQ(log.find("AddressSanitizer"), std::string::npos) << log;
    EXPECT_EQ(log.find("runtime error:"), std::string::npos) << log;
  }
  // A TLS listener; the main site has the default certificate.
  void start(const std::string& extra = "", const std::string& site_extra = "",
             const std::string& listen_extra = "tls = true\n", int threads = 2) {
    ProxyOptions o;
    o.backend = GetParam();
    o.threads = threads;
    o.root = root();
    o.listen_extra = listen_extra;
    o.site_extra = "tls_certificate = \"" + main_.pem + "\"\ntls_certificate_key = \"" + main_.key +
                   "\"\n" + site_extra;
    o.extra = extra;
    proxy_ = std::make_unique<Proxy>(o);
  }
  std::string site(const std::string& names, const Cert& c) {
    return "[[site]]\nroot = \"" + root() + "\"\nserver_names = " + names +
           "\ntls_certificate = \"" + c.pem + "\"\ntls_certificate_key = \"" + c.key + "\"\n";
  }
  std::string root() const { return site_.path() + "/www"; }
  int port() const { return proxy_->port(); }
  // Puts `c`'s files in place of the main certificate's (each a rename: a reader sees the old
  // file or the new one, as with an operator's `mv`).
  void replace_main(const Cert& c) {
    ASSERT_EQ(std::rename(c.pem.c_str(), main_.pem.c_str()), 0);
    ASSERT_EQ(std::rename(c.key.c_str(), main_.key.c_str()), 0);
  }
  // Sends SIGHUP and waits for the reload's verdict on the certificates (the `nth` since start);
  // returns that log line.
  std::string reload(int nth) {
    kill(proxy_->pid(), SIGHUP);
    for (auto until = Clock::now() + std::chrono::seconds(10); Clock::now() < until;) {
      std::string log = proxy_->error_log();
      size_t at = 0;
      for (int i = 0; i < nth && at != std::string::npos; ++i) {
        at = log.find("SIGHUP: certificates", i ? at + 1 : 0);
      }
      if (at != std::string::npos) return log.substr(at, log.find('\n', at) - at);
      std::this_thread::sleep_for(milliseconds(20));
    }
    return "no reload logged: " + proxy_->error_log();
  }

  TempDir site_;
  Cert main_;
  std::string big_;
  std::unique_ptr<Proxy> proxy_;
};

TEST_P(Tls, StaticFilesByteExactOverTls12And13) {
  start();
  for (const char* version : {"--tlsv1.2 --tls-max 1.2", "--tlsv1.3"}) {
    EXPECT_EQ(curl(std::string(version) + " " + url(port(), "/a.txt")), "first\n") << version;
    std::string out = curl(std::string(version) + " " + url(port(), "/big.txt"));
    EXPECT_EQ(out.size(), big_.size()) << version;
    EXPECT_TRUE(out == big_) << version;
  }
  std::string v = curl("-v -o /dev/null " + url(port(), "/a.txt"));
  EXPECT_NE(v.find("SSL connection using TLSv1.3"), std::string::npos) << v;
}

TEST_P(Tls, KeepAliveServesSeveralRequestsOnOneConnection) {
  start();
  std::string u = url(port(), "/a.txt");
  std::string out =
      curl("-o /dev/null -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects}\\n' " + u +
           " " + u + " " + url(port(), "/big.txt") + " " + u);
  EXPECT_EQ(out, "1\n0\n0\n0\n");
}

TEST_P(Tls, PlainHttpRequestOnTheTlsPortGets400) {
  start();
  HttpResponse r = fetch(port(), get("/a.txt"));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("The plain HTTP request was sent to HTTPS port"), std::string::npos)
      << r.body;
  // A whole response, as every other answer: Date (RFC 9110 6.6.1), its length, then close.
  EXPECT_TRUE(
      std::regex_match(r.header("date"), std::regex(R"([A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} )"
                                                    R"(\d{2}:\d{2}:\d{2} GMT)")))
      << r.header("date");
  EXPECT_EQ(r.header("content-length"), std::to_string(r.body.size()));
  EXPECT_EQ(r.header("connection"), "close");
  EXPECT_EQ(curl(url(port(), "/a.txt")), "first\n");  // and TLS still works
  proxy_->stop();
  EXPECT_EQ(tls_counter(proxy_->error_log(), "plain HTTP"), 1u) << proxy_->error_log();
}

// The 400 a plain HTTP request on the TLS port gets is in the access log with its request line,
// as nginx logs it ("GET /a.txt?plain HTTP/1.1" 400), where an operator looks for the clients
// that are refused.
TEST_P(Tls, PlainHttpRequestOnTheTlsPortIsInTheAccessLog) {
  start();
  HttpResponse r = fetch(port(), "GET /a.txt?plain HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.status, 400);
  proxy_->stop();
  std::string log = proxy_->access_log();
  EXPECT_NE(log.find("\"GET /a.txt?plain HTTP/1.1\" 400 " + std::to_string(r.body.size())),
            std::string::npos)
      << log;
}

TEST_P(Tls, GarbageIsClosedCleanly) {
  start();
  int fd = connect_to(port());
  send_all(fd, std::string("\x01\x02\x03\x04garbage\r\n\r\n", 15));
  EXPECT_EQ(read_all(fd, 3000), "");  // nothing answered, closed
  close(fd);
  EXPECT_EQ(curl(url(port(), "/a.txt")), "first\n");
  proxy_->stop();
  EXPECT_EQ(tls_counter(proxy_->error_log(), "not TLS"), 1u) << proxy_->error_log();
  EXPECT_NE(proxy_->error_log().find("not a TLS handshake"), std::string::npos);
}

// A client that connects and sends nothing, or half a ClientHello, is closed after
// handshake_timeout; another client is served meanwhile.
TEST_P(Tls, StalledHandshakeClosedAfterHandshakeTimeout) {
  start("[tls]\nhandshake_timeout = \"1s\"\n");
  int silent = connect_to(port());
  int half = connect_to(port());
  // A handshake record header announcing 512 bytes, and only the first few of them.
  send_all(half, std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));
  auto start = Clock::now();
  EXPECT_EQ(curl(url(port(), "/a.txt")), "first\n");
  EXPECT_TRUE(wait_closed(silent, 4000));
  EXPECT_TRUE(wait_closed(half, 4000));
  auto waited = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  EXPECT_GE(waited, 800);
  EXPECT_LE(waited, 3500);
  close(silent);
  close(half);
  proxy_->stop();
  EXPECT_EQ(tls_counter(proxy_->error_log(), "failed"), 2u) << proxy_->error_log();
}

// The handshake timer stops at the end of the handshake: a request that comes later is served.
TEST_P(Tls, HeaderTimeoutStartsAfterTheHandshake) {
  start("[tls]\nhandshake_timeout = \"1s\"\n");
  std::string out = s_client(port(), "-quiet -ign_eof",
                             "sleep 2; printf 'GET /a.txt HTTP/1.1\\r\\nHost: x\\r\\n"
                             "Connection: close\\r\\n\\r\\n'; sleep 1");
  EXPECT_NE(out.find("first\n"), std::string::npos) << out;
}

TEST_P(Tls, SniPicksExactWildcardOrDefaultCertificate) {
  Cert a = make_cert(site_, "a", "a.test", false);
  Cert b = make_cert(site_, "b", "b.test", true);
  Cert wild = make_cert(site_, "wild", "*.wild.test", false);
  start(site("[\"a.test\"]", a) + site("[\"b.test\"]", b) + site("[\"*.wild.test\"]", wild));
  auto subject = [&](const std::string& sni) { return served_subject(port(), sni); };
  EXPECT_EQ(subject("a.test"), "a.test");
  EXPECT_EQ(subject("B.TEST"), "b.test");
  EXPECT_EQ(subject("x.wild.test"), "*.wild.test");
  EXPECT_EQ(subject("x.y.wild.test"), "default.test");  // a wildcard stands for one label
  EXPECT_EQ(subject("wild.test"), "default.test");
  EXPECT_EQ(subject("other.test"), "default.test");
  EXPECT_EQ(subject(""), "default.test");
  // The Host header picks the same site as SNI.
  EXPECT_EQ(curl("--resolve x.wild.test:" + std::to_string(port()) +
                 ":127.0.0.1 https://x.wild.test:" + std::to_string(port()) + "/a.txt"),
            "first\n");
}

TEST_P(Tls, EcdsaOrRsaCertificateByTheClientsOffer) {
  Cert ec = make_cert(site_, "ec", "both.test", true);
  Cert rsa = make_cert(site_, "rsa", "both.test", false);
  start("[[site]]\nroot = \"" + root() + "\"\nserver_names = [\"both.test\"]\n" +
        "tls_certificate = [\"" + ec.pem + "\", \"" + rsa.pem + "\"]\n" +
        "tls_certificate_key = [\"" + ec.key + "\", \"" + rsa.key + "\"]\n");
  std::string r =
      s_client(port(), "-servername both.test -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256");
  EXPECT_NE(r.find("Server public key is 2048 bit"), std::string::npos) << r;
  EXPECT_NE(r.find("Cipher is ECDHE-RSA-AES128-GCM-SHA256"), std::string::npos) << r;
  std::string e =
      s_client(port(), "-servername both.test -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256");
  EXPECT_NE(e.find("Server public key is 256 bit"), std::string::npos) << e;
  std::string e13 =
      s_client(port(), "-servername both.test -tls1_3 -sigalgs ecdsa_secp256r1_sha256");
  EXPECT_NE(e13.find("Server public key is 256 bit"), std::string::npos) << e13;
  std::string r13 = s_client(port(), "-servername both.test -tls1_3 -sigalgs rsa_pss_rsae_sha256");
  EXPECT_NE(r13.find("Server public key is 2048 bit"), std::string::npos) << r13;
}

TEST_P(Tls, OldProtocolsAndWeakCiphersRefused) {
  start();
  for (const char* old : {"-tls1_1", "-tls1"}) {
    std::string out = s_client(port(), std::string(old) + " -cipher ALL@SECLEVEL=0");
    EXPECT_NE(out.find("Cipher is (NONE)"), std::string::npos) << old << out;
    EXPECT_TRUE(out.find("alert protocol version") != std::string::npos ||
                out.find("no protocols available") != std::string::npos ||
                out.find("unsupported protocol") != std::string::npos)
        << old << out;
  }
  std::string cbc = s_client(port(), "-tls1_2 -cipher AES128-SHA");
  EXPECT_NE(cbc.find("handshake failure"), std::string::npos) << cbc;
  EXPECT_EQ(curl(url(port(), "/a.txt")), "first\n");
}

// TLS 1.2: the server's cipher order, ChaCha20 for a client that ranks it first; TLS 1.3: the
// client's order.
TEST_P(Tls, CipherOrderServersFor12ClientsFor13) {
  start();
  auto cipher = [&](const std::string& args) {
    std::string out = s_client(port(), args);
    std::smatch m;
    return std::regex_search(out, m, std::regex("Cipher is ([^\\n]+)")) ? m[1].str() : out;
  };
  EXPECT_EQ(cipher("-tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256"),
            "ECDHE-RSA-AES128-GCM-SHA256");
  EXPECT_EQ(cipher("-tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256"),
            "ECDHE-RSA-CHACHA20-POLY1305");
  EXPECT_EQ(cipher("-tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"),
            "TLS_AES_256_GCM_SHA384");
  EXPECT_EQ(cipher("-tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"),
            "TLS_CHACHA20_POLY1305_SHA256");
  // A client offering both versions gets TLS 1.3 and its own order.
  EXPECT_EQ(cipher("-ciphersuites TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"),
            "TLS_AES_256_GCM_SHA384");
}

TEST_P(Tls, RenegotiationRefused) {
  start();
  std::string out = s_client(port(), "-tls1_2", "sleep 1; echo R; sleep 1");
  EXPECT_NE(out.find("RENEGOTIATING"), std::string::npos) << out;
  EXPECT_NE(out.find("no renegotiation"), std::string::npos) << out;
}

// A TLS 1.3 KeyUpdate from the client (asking for ours too): OpenSSL answers it, and the
// requests before and after it are served.
// With the records sealed by the transport (user space, ktls = "off"), as without kernel TLS:
// the server's KeyUpdate and everything after it go under the next traffic secret, twice over.
TEST_P(Tls, KeyUpdateFromTheClient) {
  start("[tls]\nktls = \"off\"\n");
  TlsClient client(port());
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(client.get("/a.txt"), "first\n");
  // The client's next record goes under new keys, and it asks the server to update its own.
  ASSERT_TRUE(client.key_update());
  EXPECT_EQ(client.get("/a.txt"), "first\n");
  EXPECT_EQ(client.key_updates_received(), 1);  // the server's answer, before the response
  EXPECT_EQ(client.get("/b.txt"), "second\n");
  ASSERT_TRUE(client.key_update());
  EXPECT_EQ(client.get("/b.txt"), "second\n");
  EXPECT_EQ(client.key_updates_received(), 2);
  EXPECT_EQ(client.get("/a.txt"), "first\n");
  proxy_->stop();
  EXPECT_EQ(tls_counter(proxy_->error_log(), "errors"), 0u) << proxy_->error_log();
  EXPECT_EQ(tls_counter(proxy_->error_log(), "sealed in user space"), 1u) << proxy_->error_log();
}

// One ticket key set for the process: a ticket made on one loop resumes on every loop.
TEST_P(Tls, SessionTicketsResumeAcrossLoops) {
  start("", "", "tls = true\n", 2);
  std::string sess = site_.path() + "/sess";
  for (const char* version : {"-tls1_3", "-tls1_2"}) {
    // A TLS 1.3 ticket comes after the handshake: give s_client time to read it.
    std::string first = s_client(port(), std::string(version) + " -sess_out " + sess, "sleep 1.5");
    EXPECT_NE(first.find("New, TLSv1."), std::string::npos) << first;
    for (int i = 0; i < 12; ++i) {
      std::string again = s_client(port(), std::string(version) + " -sess_in " + sess);
      EXPECT_NE(again.find("Reused, TLSv1."), std::string::npos) << version << " #" << i << again;
    }
  }
  proxy_->stop();
  EXPECT_EQ(tls_counter(proxy_->error_log(), "resumed"), 24u) << proxy_->error_log();
  EXPECT_EQ(tls_counter(proxy_->error_log(), "handshakes"), 26u) << proxy_->error_log();
}

// SIGHUP reads the certificate files again: new handshakes get the new certificate, a
// connection made before carries on with the old one, and a ticket issued before the reload
// still resumes (the ticket keys stay).
TEST_P(Tls, SighupReloadsCertificates) {
  start();
  std::string sess = site_.path() + "/sess";
  std::string first = s_client(port(), "-tls1_3 -sess_out " + sess, "sleep 0.5");
  EXPECT_NE(first.find("New, TLSv1.3"), std::string::npos) << first;
  TlsClient before(port());
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before.subject(), "/CN=default.test");
  EXPECT_EQ(before.get("/a.txt"), "first\n");
  std::string old_serial = file_serial(main_.pem);
  EXPECT_EQ(served_serial(port()), old_serial);

  Cert next = make_cert(site_, "next", "next.test", true);
  std::string new_serial = file_serial(next.pem);
  ASSERT_NE(new_serial, old_serial);
  replace_main(next);
  EXPECT_EQ(reload(1), "SIGHUP: certificates reloaded");
  for (int i = 0; i < 4; ++i) {  // whichever loop accepts
    EXPECT_EQ(served_subject(port()), "next.test");
    EXPECT_EQ(served_serial(port()), new_serial);
  }
  EXPECT_EQ(curl(url(port(), "/b.txt")), "second\n");
  // The connection from before the reload is served, and still has the old certificate.
  EXPECT_EQ(before.get("/b.txt"), "second\n");
  EXPECT_EQ(before.get("/a.txt"), "first\n");
  EXPECT_EQ(before.subject(), "/CN=default.test");
  std::string again = s_client(port(), "-tls1_3 -sess_in " + sess);
  EXPECT_NE(again.find("Reused, TLSv1.3"), std::string::npos) << again;
}

// A reload that cannot load a certificate leaves the running ones serving and says why; a later
// reload with good files takes effect.
TEST_P(Tls, SighupWithBadCertificateKeepsTheRunningOne) {
  start();
  TlsClient before(port());
  ASSERT_TRUE(before.ok());
  // An ECDSA certificate over the RSA one, the RSA key left in place: they do not match.
  Cert other = make_cert(site_, "other", "other.test", true);
  ASSERT_EQ(std::rename(other.pem.c_str(), main_.pem.c_str()), 0);
  std::string line = reload(1);
  EXPECT_NE(line.find("certificates not reloaded, the running ones keep serving"),
            std::string::npos)
      << line;
  EXPECT_NE(line.find(main_.key + "\" does not match \"" + main_.pem + "\""), std::string::npos)
      << line;
  EXPECT_EQ(served_subject(port()), "default.test");
  EXPECT_EQ(curl(url(port(), "/a.txt")), "first\n");

  // The certificate file gone.
  ASSERT_EQ(unlink(main_.pem.c_str()), 0);
  line = reload(2);
  EXPECT_NE(line.find("not reloaded"), std::string::npos) << line;
  EXPECT_NE(line.find("No such file or directory"), std::string::npos) << line;
  EXPECT_EQ(served_subject(port()), "default.test");
  EXPECT_EQ(before.get("/a.txt"), "first\n");

  Cert fixed = make_cert(site_, "fixed", "fixed.test", false);
  replace_main(fixed);
  EXPECT_EQ(reload(3), "SIGHUP: certificates reloaded");
  EXPECT_EQ(served_subject(port()), "fixed.test");
  EXPECT_EQ(before.get("/b.txt"), "second\n");
}

// SIGTERM while a client's handshake is under way: the connection was accepted before the
// listeners closed, so its handshake finishes and its request is served, as nginx serves it;
// only idle connections are closed at once.
TEST_P(Tls, SigtermLetsAHandshakeUnderWayFinishAndServesItsRequest) {
  signal(SIGPIPE, SIG_IGN);  // a write to a connection the proxy closed fails, no more
  start();
  TlsClient late(port(), false);
  ASSERT_TRUE(late.server_answered_hello());
  kill(proxy_->pid(), SIGTERM);
  ASSERT_TRUE(wait_refused(port()));  // the listeners are closed: the drain has begun on every loop
  ASSERT_TRUE(late.finish_handshake());
  EXPECT_EQ(late.get("/a.txt"), "first\n");
}

TEST_P(Tls, AlpnPrefersH2ThenHttp11) {
  start();
  EXPECT_NE(s_client(port(), "-alpn h2,http/1.1").find("ALPN protocol: h2"), std::string::npos);
  EXPECT_NE(s_client(port(), "-alpn http/1.1").find("ALPN protocol: http/1.1"), std::string::npos);
  EXPECT_NE(s_client(port(), "-alpn spdy/3").find("No ALPN negotiated"), std::string::npos);
  std::string v = curl("-v --http2 -o /dev/null " + url(port(), "/a.txt"));
  EXPECT_NE(v.find("ALPN: server accepted h2"), std::string::npos) << v;
  EXPECT_NE(v.find("HTTP/2 200"), std::string::npos) << v;
  EXPECT_EQ(curl("--http2 " + url(port(), "/a.txt")), "first\n");
  EXPECT_EQ(curl("--http1.1 " + url(port(), "/a.txt")), "first\n");
}

// `http2 = false` on a TLS listener: ALPN offers http/1.1 alone, as nginx's `listen 443 ssl`
// without http2 does; clients that ask for h2 first are served over HTTP/1.1. It offered h2
// all the same.
TEST_P(Tls, Http2FalseOffersOnlyHttp11ByAlpn) {
  start("", "", "tls = true\nhttp2 = false\n");
  EXPECT_NE(s_client(port(), "-alpn h2,http/1.1").find("ALPN protocol: http/1.1"),
            std::string::npos);
  EXPECT_NE(s_client(port(), "-alpn h2").find("No ALPN negotiated"), std::string::npos);
  std::string v = curl("-v --http2 -o /dev/null " + url(port(), "/a.txt"));
  EXPECT_NE(v.find("ALPN: server accepted http/1.1"), std::string::npos) << v;
  EXPECT_NE(v.find("HTTP/1.1 200"), std::string::npos) << v;
  EXPECT_EQ(curl("--http2 " + url(port(), "/a.txt")), "first\n");
}

// HTTP/2 over TLS, chosen by ALPN: nghttp (nghttp2's own client) gets a large file byte for
// byte, and h2load runs many streams over a few connections.
TEST_P(Tls, Http2ByAlpnServesStaticFiles) {
  start();
  std::string out;
  run_command("timeout 20 nghttp " + url(port(), "/big.txt") + " 2>/dev/null", out);
  EXPECT_EQ(out.size(), big_.size());
  EXPECT_TRUE(out == big_);
  run_command("timeout 30 h2load -n 400 -c 4 -m 20 " + url(port(), "/a.txt") + " 2>&1", out);
  EXPECT_NE(out.find("Application protocol: h2"), std::string::npos) << out;
  EXPECT_NE(out.find("400 succeeded, 0 failed"), std::string::npos) << out;
}

// True when askr-proxy doctor finds no kernel TLS here (CONFIG_TLS off, or the module absent).
bool no_kernel_tls() {
  std::string out;
  run_proxy_command("doctor", out);
  return out.find("kTLS:             no") != std::string::npos;
}

// Where the kernel has no TLS (CONFIG_TLS is off here), ktls = "auto" serves everything in
// user space (large files through read + send, never sendfile: the transport offers no
// zero-copy), says so once at start, and counts each connection that stayed in user space.
TEST_P(Tls, KtlsAutoServesInUserSpace) {
  if (!no_kernel_tls()) GTEST_SKIP() << "this kernel has TLS: the VM test's case (vm.ktls)";
  start("[tls]\nktls = \"auto\"\n");
  int connections = 0;
  for (const char* version : {"--tlsv1.2 --tls-max 1.2", "--tlsv1.3"}) {
    EXPECT_EQ(curl(std::string(version) + " " + url(port(), "/a.txt")), "first\n") << version;
    EXPECT_TRUE(curl(std::string(version) + " " + url(port(), "/big.txt")) == big_) << version;
    connections += 2;
  }
  proxy_->stop();
  std::string log = proxy_->error_log();
  EXPECT_EQ(tls_counter(log, "user"), uint64_t(connections)) << log;
  EXPECT_EQ(tls_counter(log, "tx"), 0u) << log;
  EXPECT_EQ(tls_counter(log, "rx"), 0u) << log;
  EXPECT_EQ(tls_counter(log, "errors"), 0u) << log;
  size_t line = log.find("kernel TLS unavailable");
  EXPECT_NE(line, std::string::npos) << log;
  EXPECT_EQ(log.find("kernel TLS unavailable", line + 1), std::string::npos) << log;  // once
  EXPECT_EQ(log.find("sendfile failed"), std::string::npos) << log;
}

// ktls = "off": connections never try (nothing counted as fallen back), and nothing is said at
// start.
TEST_P(Tls, KtlsOffNeverTries) {
  start("[tls]\nktls = \"off\"\n");
  EXPECT_EQ(curl("--tlsv1.3 " + url(port(), "/a.txt")), "first\n");
  EXPECT_TRUE(curl("--tlsv1.2 --tls-max 1.2 " + url(port(), "/big.txt")) == big_);
  proxy_->stop();
  std::string log = proxy_->error_log();
  EXPECT_EQ(tls_counter(log, "handshakes"), 2u) << log;
  EXPECT_EQ(tls_counter(log, "user"), 0u) << log;
  EXPECT_EQ(tls_counter(log, "tx"), 0u) << log;
  EXPECT_EQ(log.find("kernel TLS"), std::string::npos) << log;
}

TEST_P(Tls, RedirectHttpsSendsPlainRequestsToTheTlsPort) {
  std::string routes =
      "[[site.route]]\nprefix = \"/keep/\"\nredirect_https_status = 308\n"
      "[[site.route]]\nprefix = \"/open/\"\nredirect_https = false\n";
  ProxyOptions o;
  o.backend = GetParam();
  o.root = root();
  o.site_extra = "server_names = [\"example.test\"]\nredirect_https = true\ntls_certificate = \"" +
                 main_.pem + "\"\ntls_certificate_key = \"" + main_.key + "\"\n" + routes;
  o.extra = "[[listen]]\naddress = \"127.0.0.1:0\"\ntls = true\n";
  proxy_ = std::make_unique<Proxy>(o);
  ASSERT_EQ(proxy_->ports().size(), 2u);
  int plain = proxy_->ports()[0], tls = proxy_->ports()[1];
  std::string host = "Host: example.test:" + std::to_string(plain) + "\r\n";
  auto get_host = [&](const std::string& path) {
    return "GET " + path + " HTTP/1.1\r\n" + host + "\r\n";
  };
  HttpResponse r = fetch(plain, get_host("/a.txt?x=1"));
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.header("location"), "https://example.test:" + std::to_string(tls) + "/a.txt?x=1");
  HttpResponse k =
      fetch(plain, "POST /keep/x HTTP/1.1\r\n" + host + "Content-Length: 3\r\n\r\nabc");
  EXPECT_EQ(k.status, 308);
  EXPECT_EQ(k.header("location"), "https://example.test:" + std::to_string(tls) + "/keep/x");
  EXPECT_EQ(fetch(plain, get_host("/open/")).status, 404);  // the route turns it off
  // Over TLS the same request is served.
  EXPECT_EQ(curl("--resolve example.test:" + std::to_string(tls) +
                 ":127.0.0.1 https://example.test:" + std::to_string(tls) + "/a.txt?x=1"),
            "first\n");
}

// The redirect names the host as nginx's $host does, in lower case and without the DNS root's
// final dot: "Example.TEST.:8080" is sent to https://example.test:PORT, the name the
// certificate, the cookies and HSTS know; it was sent to https://Example.TEST.:PORT.
TEST_P(Tls, RedirectHttpsNamesTheHostInLowerCaseWithoutTheFinalDot) {
  ProxyOptions o;
  o.backend = GetParam();
  o.root = root();
  o.site_extra = "server_names = [\"example.test\"]\nredirect_https = true\ntls_certificate = \"" +
                 main_.pem + "\"\ntls_certificate_key = \"" + main_.key + "\"\n";
  o.extra = "[[listen]]\naddress = \"127.0.0.1:0\"\ntls = true\n";
  proxy_ = std::make_unique<Proxy>(o);
  ASSERT_EQ(proxy_->ports().size(), 2u);
  int plain = proxy_->ports()[0], tls = proxy_->ports()[1];
  HttpResponse r = fetch(
      plain, "GET /a.txt HTTP/1.1\r\nHost: Example.TEST.:" + std::to_string(plain) + "\r\n\r\n");
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.header("location"), "https://example.test:" + std::to_string(tls) + "/a.txt");
}

ASKR_BOTH_BACKENDS(Tls);

// PHP behind a TLS listener sees what php-fpm users expect, through php-fpm and through an
// Askr worker pool; a 5 MiB body goes up byte-exact.
class TlsPhp : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (skip_backend(GetParam())) GTEST_SKIP() << "io_uring is not usable here";
    copy_php_site(dir_.path() + "/www");
    cert_ = make_cert(dir_, "php", "php.test", true);
  }
  std::unique_ptr<PhpProxy> start(const std::string& fastcgi, const std::string& pool_extra) {
    PhpProxyOptions o;
    o.backend = GetParam();
    o.root = dir_.path() + "/www";
    o.fastcgi = fastcgi;
    o.pool_extra = pool_extra;
    o.listen_extra = "tls = true\n";
    o.site_extra = "server_names = [\"php.test\"]\ntls_certificate = \"" + cert_.pem +
                   "\"\ntls_certificate_key = \"" + cert_.key + "\"\n";
    return std::make_unique<PhpProxy>(o);
  }
  void check(PhpProxy& proxy) {
    std::string p = std::to_string(proxy.port());
    std::string base = "--resolve php.test:" + p + ":127.0.0.1 https://php.test:" + p;
    std::string env = curl("--tlsv1.3 " + base + "/env.php");
    for (const char* want : {"\"HTTPS\":\"on\"", "\"REQUEST_SCHEME\":\"https\"",
                             "\"SSL_PROTOCOL\":\"TLSv1.3\"", "\"SSL_SERVER_NAME\":\"php.test\"",
                             "\"SSL_SESSION_REUSED\":\".\"", "\"SSL_CIPHER\":\"TLS_"}) {
      EXPECT_NE(env.find(want), std::string::npos) << want << "\n" << env;
    }
    EXPECT_NE(env.find("\"SERVER_PORT\":\"" + p + "\""), std::string::npos) << env;
    // The same over HTTP/2 (ALPN h2): PHP learns the protocol, not the framing.
    std::string env2 = curl("--http2 " + base + "/env.php");
    for (const char* want : {"\"HTTPS\":\"on\"", "\"SERVER_PROTOCOL\":\"HTTP/2.0\"",
                             "\"SSL_SERVER_NAME\":\"php.test\"", "\"SSL_CIPHER\":\"TLS_"}) {
      EXPECT_NE(env2.find(want), std::string::npos) << want << "\n" << env2;
    }
    std::string env12 = curl("--tlsv1.2 --tls-max 1.2 " + base + "/env.php");
    EXPECT_NE(env12.find("\"SSL_PROTOCOL\":\"TLSv1.2\""), std::string::npos) << env12;
    EXPECT_NE(env12.find("\"SSL_CIPHER\":\"ECDHE-ECDSA-"), std::string::npos) << env12;

    std::string body;
    for (uint64_t i = 0; body.size() < 5u << 20; ++i) body += std::to_string(i * 7919) + ",";
    std::string file = dir_.write("upload.bin", body);
    std::string sum;
    run_command("sha256sum " + file + " | cut -d' ' -f1 | tr -d '\\n'", sum);
    std::string out = curl("--data-binary @" + file +
                           " -H 'Content-Type: application/octet-stream' " + base + "/body.php");
    EXPECT_NE(out.find("\"length\":" + std::to_string(body.size())), std::string::npos) << out;
    EXPECT_NE(out.find(sum), std::string::npos) << out;
    out = curl("--http2 --data-binary @" + file + " -H 'Content-Type: application/octet-stream' " +
               base + "/body.php");
    EXPECT_NE(out.find("\"length\":" + std::to_string(body.size())), std::string::npos) << out;
    EXPECT_NE(out.find(sum), std::string::npos) << out;
  }

  TempDir dir_;
  Cert cert_;
};

TEST_P(TlsPhp, PhpFpmSeesHttpsAndSslParams) {
  if (!php_fpm_available()) GTEST_SKIP() << "php-fpm is not installed";
  PhpFpm fpm;
  auto proxy = start(fpm.address(), "");
  check(*proxy);
}

TEST_P(TlsPhp, AskrWorkerPoolSeesHttpsAndSslParams) {
  if (!ASKR_WITH_WORKER) GTEST_SKIP() << "askr-worker is not built in this configuration";
  auto proxy = start("", "workers = 2\n");
  check(*proxy);
}

// A response cut short (here the worker killed at request_timeout after the first part went
// out) ends the connection without close_notify, as nginx's quiet shutdown on an error: with a
// body read until the close (HTTP/1.0), close_notify would make the cut look like the end.
TEST_P(TlsPhp, ResponseCutShortEndsWithoutCloseNotify) {
  if (!ASKR_WITH_WORKER) GTEST_SKIP() << "askr-worker is not built in this configuration";
  auto proxy =
      start("", "workers = 1\nrequest_timeout = \"1s\"\n[pool.ini]\noutput_buffering = \"0\"\n");
  bool close_notify = false;
  TlsClient whole(proxy->port());
  ASSERT_TRUE(whole.ok());
  std::string out = whole.request_to_end("GET /sse.php?s=0 HTTP/1.0\r\n\r\n", close_notify);
  EXPECT_NE(out.find("data: part2"), std::string::npos) << out;
  EXPECT_TRUE(close_notify) << "a whole response ends with close_notify";
  TlsClient cut(proxy->port());
  ASSERT_TRUE(cut.ok());
  out = cut.request_to_end("GET /sse.php?s=5 HTTP/1.0\r\n\r\n", close_notify);
  EXPECT_NE(out.find("200 OK"), std::string::npos) << out;
  EXPECT_NE(out.find("data: part1"), std::string::npos) << out;
  EXPECT_EQ(out.find("data: part2"), std::string::npos) << out;
  EXPECT_FALSE(close_notify) << "the cut response ended as if it were whole";
}

// A POST queued for the pool's only worker, whose client leaves with its body cut short, is
// given up when a worker takes it, over TLS as in cleartext: the ciphertext still unread can
// carry no more plaintext than its own size, so the script never runs on part of a form.
TEST_P(TlsPhp, QueuedRequestWhoseClientLeftWithItsBodyCutIsNotRun) {
  if (!ASKR_WITH_WORKER) GTEST_SKIP() << "askr-worker is not built in this configuration";
  auto proxy = start("", "workers = 1\nmode = \"classic\"\n");
  std::string busy = dir_.path() + "/www/busy", marks = dir_.path() + "/www/marks";
  auto held = std::async(std::launch::async, [&] {
    return curl("'" + url(proxy->port(), "/pidsleep.php?s=2&f=" + busy) + "'");
  });
  for (int i = 0; i < 250 && !std::filesystem::exists(busy); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(std::filesystem::exists(busy));  // the only worker sleeps: what follows queues
  for (size_t length : {size_t(50000), size_t(200000)}) {
    TlsClient c(proxy->port());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.send("POST /pidsleep.php?s=0&f=" + marks +
                       " HTTP/1.1\r\nHost: php.test\r\nContent-Type: application/octet-stream\r\n"
                       "Content-Length: " +
                       std::to_string(length) + "\r\n\r\n" + std::string(1000, 'x')));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }  // each client hangs up with 1,000 of its bytes sent, without close_notify
  EXPECT_FALSE(held.get().empty());
  EXPECT_FALSE(curl(url(proxy->port(), "/pid.php")).empty());  // served after the two given up
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(std::filesystem::exists(marks)) << "a request with a cut body ran";
  proxy->stop();
  EXPECT_NE(proxy->error_log().find("the client left while the request waited for a worker"),
            std::string::npos)
      << proxy->error_log();
}

ASKR_BOTH_BACKENDS(TlsPhp);

// askr-proxy -t reports what would stop a TLS listener from serving.
class TlsConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("www/index.html", "x");
    good_ = make_cert(dir_, "good", "good.test", false);
    other_ = make_cert(dir_, "other", "other.test", true);
  }
  // Exit status of -t; `out` gets what it said.
  int check(const std::string& listen_extra, const std::string& site_extra,
            const std::string& extra, std::string& out) {
    std::string cfg = "[[listen]]\naddress = \"127.0.0.1:0\"\n" + listen_extra +
                      "\n[[site]]\nroot = \"www\"\n" + site_extra + "\n" + extra;
    std::string path = dir_.write("askr.toml", cfg);
    return run_proxy_command("-t -c " + path, out);
  }
  std::string pair(const Cert& cert, const Cert& key) {
    return "tls_certificate = \"" + cert.pem + "\"\ntls_certificate_key = \"" + key.key + "\"\n";
  }

  TempDir dir_;
  Cert good_, other_;
};

TEST_F(TlsConfig, GoodConfigPasses) {
  std::string out;
  EXPECT_EQ(check("tls = true\n", pair(good_, good_),
                  "[tls]\nprotocols = [\"TLSv1.3\"]\nktls = \"off\"\n", out),
            0)
      << out;
}

// ktls = "on" where the kernel has no TLS: the operator's requirement cannot be met, so the
// proxy refuses to start and says why (-t, which may run elsewhere, does not judge the kernel).
TEST_F(TlsConfig, KtlsOnRefusesToStartWithoutKernelTls) {
  if (!no_kernel_tls()) GTEST_SKIP() << "this kernel has TLS";
  std::string cfg = "[[listen]]\naddress = \"127.0.0.1:0\"\ntls = true\n[[site]]\nroot = \"" +
                    dir_.path() + "\"\n" + pair(good_, good_) + "[tls]\nktls = \"on\"\n";
  std::string path = dir_.write("on.toml", cfg);
  std::string out;
  EXPECT_EQ(run_proxy_command("-c " + path, out), 1) << out;
  EXPECT_NE(out.find("[tls] ktls = \"on\", but kernel TLS is unavailable"), std::string::npos)
      << out;
  EXPECT_EQ(run_proxy_command("-t -c " + path, out), 0) << out;
}

TEST_F(TlsConfig, TlsListenerWithoutCertificate) {
  std::string out;
  EXPECT_NE(check("tls = true\n", "", "", out), 0);
  EXPECT_NE(out.find("needs 'tls_certificate' on the default [[site]]"), std::string::npos) << out;
}

TEST_F(TlsConfig, UnreadableCertificate) {
  std::string out;
  EXPECT_NE(
      check("tls = true\n",
            "tls_certificate = \"missing.pem\"\ntls_certificate_key = \"" + good_.key + "\"\n", "",
            out),
      0);
  EXPECT_NE(out.find("missing.pem\": No such file or directory"), std::string::npos) << out;
}

// What OpenSSL refuses is reported where the config file says it, as the loader's own errors
// are: FILE:LINE:COLUMN of the key (line 8: tls_certificate_key's value).
TEST_F(TlsConfig, KeyThatDoesNotMatchItsCertificate) {
  std::string out;
  EXPECT_NE(check("tls = true\n", pair(good_, other_), "", out), 0);
  EXPECT_NE(out.find(dir_.path() + "/askr.toml:8:23: site 1: tls_certificate_key \"" + other_.key +
                     "\" does not match \"" + good_.pem),
            std::string::npos)
      << out;
}

// What OpenSSL refuses names the config file as the loader's errors name it: as given on the
// command line, not made absolute. The files it names are shown
// absolute in both, as every path the config resolves (roots, logs, temp_dir).
TEST_F(TlsConfig, OpenSslErrorsNameTheConfigFileAsGiven) {
  std::string out;
  auto check_here = [this, &out] {
    run_command("cd " + dir_.path() + " && " ASKR_PROXY_BIN " -t -c ./askr.toml 2>&1", out);
    return "\n" + out;
  };
  check("tls = true\n", "tls_certificate = \"missing.pem\"\ntls_certificate_key = \"good.key\"\n",
        "", out);
  EXPECT_NE(check_here().find("\n./askr.toml:7:19: tls_certificate \"" + dir_.path() +
                              "/missing.pem\": No such file or directory"),
            std::string::npos)
      << out;
  check("tls = true\n", "tls_certificate = \"good.pem\"\ntls_certificate_key = \"other.key\"\n", "",
        out);
  EXPECT_NE(check_here().find("\n./askr.toml:8:23: site 1: tls_certificate_key \"" + other_.key +
                              "\" does not match \"" + good_.pem + "\""),
            std::string::npos)
      << out;
}

TEST_F(TlsConfig, TwoCertificatesOfOneKeyTypeAreRefused) {
  Cert rsa2 = make_cert(dir_, "rsa2", "good.test", false);
  std::string out;
  EXPECT_NE(check("tls = true\n",
                  "tls_certificate = [\"" + good_.pem + "\", \"" + rsa2.pem +
                      "\"]\ntls_certificate_key = [\"" + good_.key + "\", \"" + rsa2.key + "\"]\n",
                  "", out),
            0);
  EXPECT_NE(out.find("tls_certificate \"" + rsa2.pem + "\": a second RSA certificate"),
            std::string::npos)
      << out;
  // An ECDSA and an RSA one together are what two certificates are for.
  EXPECT_EQ(
      check("tls = true\n",
            "tls_certificate = [\"" + other_.pem + "\", \"" + good_.pem +
                "\"]\ntls_certificate_key = [\"" + other_.key + "\", \"" + good_.key + "\"]\n",
            "", out),
      0)
      << out;
}

// A key under a pass phrase is refused with a clear error, as nginx does without
// ssl_password_file: OpenSSL's default asks for the phrase on the terminal, which blocked -t, a
// start, and a SIGHUP reload (the main thread, which then no longer took SIGTERM).
TEST_F(TlsConfig, KeyWithAPassPhraseIsRefusedWithoutAsking) {
  std::string locked = dir_.path() + "/locked.key";
  std::string out;
  ASSERT_EQ(run_command("openssl pkey -in " + good_.key + " -aes256 -passout pass:secret -out " +
                            locked + " 2>&1",
                        out),
            0)
      << out;
  std::string path =
      dir_.write("locked.toml",
                 "[[listen]]\naddress = \"127.0.0.1:0\"\ntls = true\n[[site]]\nroot = \"www\"\n"
                 "tls_certificate = \"" +
                     good_.pem + "\"\ntls_certificate_key = \"" + locked + "\"\n");
  for (const char* mode : {"-t", ""}) {
    std::vector<std::string> args{"-c", path};
    if (*mode) args.insert(args.begin(), mode);
    EXPECT_EQ(run_proxy_with_silent_stdin(args, out, 10000), 1) << mode << "\n" << out;
    EXPECT_NE(out.find(locked + "\" is protected by a pass phrase"), std::string::npos)
        << mode << "\n"
        << out;
    EXPECT_EQ(out.find("Enter PEM pass phrase"), std::string::npos) << out;
  }
}

TEST_F(TlsConfig, CipherStringOpenSslRefuses) {
  std::string out;
  EXPECT_NE(check("tls = true\n", pair(good_, good_), "[tls]\nciphers = \"NO-SUCH-CIPHER\"\n", out),
            0);
  EXPECT_NE(out.find(dir_.path() + "/askr.toml:11:11: site 1: ciphers \"NO-SUCH-CIPHER\" refused"),
            std::string::npos)
      << out;
}

// A site's own cipher string is reported at its own line, and a certificate OpenSSL cannot read
// at the tls_certificate element that names it.
TEST_F(TlsConfig, SiteCipherStringAndBadCertificateAreReportedWhereWritten) {
  std::string out;
  EXPECT_NE(
      check("tls = true\n", pair(good_, good_) + "tls_ciphersuites = \"NO_SUCH_SUITE\"\n", "", out),
      0);
  EXPECT_NE(out.find(dir_.path() + "/askr.toml:9:20: site 1: ciphersuites \"NO_SUCH_SUITE\""),
            std::string::npos)
      << out;
  std::string junk = dir_.write("junk.pem", "not a certificate\n");
  EXPECT_NE(check("tls = true\n",
                  "tls_certificate = [\"" + good_.pem + "\", \"" + junk +
                      "\"]\ntls_certificate_key = [\"" + good_.key + "\", \"" + good_.key + "\"]\n",
                  "", out),
            0);
  size_t column = 20 + good_.pem.size() + 4;  // the second element of the array
  EXPECT_NE(out.find(dir_.path() + "/askr.toml:7:" + std::to_string(column) +
                     ": site 1: tls_certificate \"" + junk + "\""),
            std::string::npos)
      << out;
}

TEST_F(TlsConfig, UnknownProtocolName) {
  std::string out;
  EXPECT_NE(check("tls = true\n", pair(good_, good_), "[tls]\nprotocols = [\"TLSv1.1\"]\n", out),
            0);
  EXPECT_NE(out.find("unknown protocol \"TLSv1.1\""), std::string::npos) << out;
}

TEST_F(TlsConfig, PortBothTlsAndPlaintext) {
  std::string out;
  std::string cfg =
      "[[listen]]\naddress = \"127.0.0.1:8443\"\ntls = true\n[[listen]]\n"
      "address = \"127.0.0.2:8443\"\n[[site]]\nroot = \"www\"\n" +
      pair(good_, good_);
  std::string path = dir_.write("mixed.toml", cfg);
  EXPECT_NE(run_proxy_command("-t -c " + path, out), 0);
  EXPECT_NE(out.find("port 8443 is TLS on one listener and plaintext on another"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace askr::testing
