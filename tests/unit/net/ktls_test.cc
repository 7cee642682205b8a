// net/ktls without a kernel that has TLS: a server and a client SSL handshake over memory BIOs
// for each version and cipher; the Tracker's keys and sequence numbers must open the server's
// next records and seal records that the client (server TX) and the server (server RX) accept,
// exactly as the kernel would after the switch. Plus the probe, enable() failing cleanly here,
// and the record-type helpers; and the records RecordSealer writes with those keys.
#include "net/ktls.h"
#include "net/record_sealer.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "../../support/tls_pair.h"

namespace askr::net::ktls {
namespace {

using test::kTlsCases;
using test::TlsCase;

// Two SSLs joined by memory BIOs; `pump` moves bytes between them.
struct Pair {
  SSL_CTX* sctx;
  SSL_CTX* cctx;
  SSL* server;
  SSL* client;
  BIO* s_in;  // what the server reads (the client's ciphertext), ...
  BIO* s_out;
  BIO* c_in;
  BIO* c_out;

  // New contexts, or (for resumption) the given ones, shared.
  explicit Pair(const TlsCase& c, SSL_CTX* s = nullptr, SSL_CTX* cl = nullptr) {
    sctx = s ? (SSL_CTX_up_ref(s), s) : test::make_ctx(true, c);
    cctx = cl ? (SSL_CTX_up_ref(cl), cl) : test::make_ctx(false, c);
    server = SSL_new(sctx);
    client = SSL_new(cctx);
    EXPECT_NE(Tracker::attach(server), nullptr);
    s_in = BIO_new(BIO_s_mem());
    s_out = BIO_new(BIO_s_mem());
    c_in = BIO_new(BIO_s_mem());
    c_out = BIO_new(BIO_s_mem());
    SSL_set_bio(server, s_in, s_out);
    SSL_set_bio(client, c_in, c_out);
    SSL_set_accept_state(server);
    SSL_set_connect_state(client);
  }
  ~Pair() {
    SSL_free(server);
    SSL_free(client);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
  }

  static std::string take(BIO* b) {
    std::string s(BIO_ctrl_pending(b), '\0');
    if (!s.empty()) BIO_read(b, s.data(), static_cast<int>(s.size()));
    return s;
  }
  static void put(BIO* b, std::string_view s) {
    if (!s.empty()) BIO_write(b, s.data(), static_cast<int>(s.size()));
  }
  void pump() {
    put(s_in, take(c_out));
    put(c_in, take(s_out));
  }

  bool handshake() {
    for (int i = 0; i < 20; ++i) {
      int c = SSL_do_handshake(client), s = SSL_do_handshake(server);
      pump();
      if (c == 1 && s == 1) return true;
    }
    ERR_print_errors_fp(stderr);
    return false;
  }

  // SSL_read of everything available (pending records and plaintext).
  static std::string read_all(SSL* ssl) {
    std::string out;
    char buf[16384];
    int n;
    while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) out.append(buf, n);
    return out;
  }
};

class KtlsKeys : public ::testing::TestWithParam<TlsCase> {};

// After tickets and application records both ways, the tracked server TX keys open the
// server's next records and seal records the client accepts; the RX keys open the client's
// next record and seal records the server accepts.
void exchange_and_check(Pair& p, const TlsCase& tc, bool resumed) {
  // Application records both ways before the switch (and the client reads the tickets).
  for (int i = 0; i < 3; ++i) {
    std::string m = "client record " + std::to_string(i);
    ASSERT_GT(SSL_write(p.client, m.data(), static_cast<int>(m.size())), 0);
    p.pump();
    EXPECT_EQ(Pair::read_all(p.server), m);
  }
  for (int i = 0; i < 4; ++i) {
    std::string m = "server record " + std::to_string(i);
    ASSERT_GT(SSL_write(p.server, m.data(), static_cast<int>(m.size())), 0);
    p.pump();
    EXPECT_EQ(Pair::read_all(p.client), m);
  }
  ASSERT_TRUE(rx_quiescent(p.server, SSL_get_rbio(p.server)));

  Tracker* t = Tracker::get(p.server);
  ASSERT_NE(t, nullptr);
  auto keys = t->keys(p.server);
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  SessionKeys& k = *keys;
  EXPECT_EQ(k.version, tc.version);
  EXPECT_EQ(k.cipher, tc.cipher);
  if (!resumed) {
    // TLS 1.2: Finished is record 0 under the new keys; 1.3: OpenSSL sends two tickets.
    EXPECT_EQ(k.tx.seq, tc.version == TLS1_3_VERSION ? 2u + 4 : 1u + 4);
    EXPECT_EQ(k.rx.seq, 1u + 3 - (tc.version == TLS1_3_VERSION ? 1 : 0));
  }

  // Server TX: OpenSSL's next two records open with the tracked keys at seq, seq + 1.
  for (uint64_t i = 0; i < 2; ++i) {
    std::string m(100 + i * 5000, static_cast<char>('a' + i));
    ASSERT_GT(SSL_write(p.server, m.data(), static_cast<int>(m.size())), 0);
    std::string wire = Pair::take(p.s_out);
    auto o = test::open_record(k.version, k.cipher, k.tx, k.tx.seq + i, wire);
    ASSERT_TRUE(o) << "server record " << i << " does not open with the tracked TX keys";
    EXPECT_EQ(o->type, kApplicationData);
    EXPECT_EQ(o->plain, m);
    EXPECT_EQ(o->used, wire.size());
    Pair::put(p.c_in, wire);
    EXPECT_EQ(Pair::read_all(p.client), m);
  }
  // What the kernel would send next: sealed with the TX keys, the client accepts it.
  std::string kernel_msg = "sealed as the kernel would";
  Pair::put(p.c_in, test::seal_record(k.version, k.cipher, k.tx, k.tx.seq + 2, kApplicationData,
                                      kernel_msg));
  EXPECT_EQ(Pair::read_all(p.client), kernel_msg);

  // Server RX: the client's next record opens with the tracked RX keys at seq.
  std::string cm = "client after the switch";
  ASSERT_GT(SSL_write(p.client, cm.data(), static_cast<int>(cm.size())), 0);
  std::string wire = Pair::take(p.c_out);
  auto o = test::open_record(k.version, k.cipher, k.rx, k.rx.seq, wire);
  ASSERT_TRUE(o) << "client record does not open with the tracked RX keys";
  EXPECT_EQ(o->plain, cm);
  Pair::put(p.s_in, wire);
  EXPECT_EQ(Pair::read_all(p.server), cm);
  // A record sealed with the RX keys at the next sequence number: the server accepts it.
  std::string forged = "sealed with the client's keys";
  Pair::put(p.s_in,
            test::seal_record(k.version, k.cipher, k.rx, k.rx.seq + 1, kApplicationData, forged));
  EXPECT_EQ(Pair::read_all(p.server), forged);
  // And a wrong sequence number does not open: the check above is not vacuous.
  std::string m = "x";
  ASSERT_GT(SSL_write(p.server, m.data(), 1), 0);
  EXPECT_FALSE(test::open_record(k.version, k.cipher, k.tx, k.tx.seq + 5, Pair::take(p.s_out)));
}

TEST_P(KtlsKeys, KeysAndSequencesMatchOpenSSL) {
  Pair p(GetParam());
  ASSERT_TRUE(p.handshake());
  exchange_and_check(p, GetParam(), false);
}

// A resumed session (ticket from the first connection): TLS 1.2 derives from the resumed
// master secret and sends its CCS and Finished first; TLS 1.3 has its own traffic secrets.
TEST_P(KtlsKeys, ResumedSessionKeysMatchOpenSSL) {
  const TlsCase& tc = GetParam();
  Pair first(tc);
  ASSERT_TRUE(first.handshake());
  ASSERT_GT(SSL_write(first.server, "t", 1), 0);  // the client reads the 1.3 tickets with it
  first.pump();
  EXPECT_EQ(Pair::read_all(first.client), "t");
  SSL_SESSION* sess = SSL_get1_session(first.client);
  ASSERT_NE(sess, nullptr);
  Pair p(tc, first.sctx, first.cctx);
  SSL_set_session(p.client, sess);
  SSL_SESSION_free(sess);
  ASSERT_TRUE(p.handshake());
  ASSERT_TRUE(SSL_session_reused(p.server));
  exchange_and_check(p, tc, true);
}

INSTANTIATE_TEST_SUITE_P(AllCiphers, KtlsKeys, ::testing::ValuesIn(kTlsCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Ktls, KeysRefusedBeforeTheHandshakeEnds) {
  Pair p(kTlsCases[3]);
  SSL_do_handshake(p.client);
  p.pump();
  SSL_do_handshake(p.server);
  auto keys = Tracker::get(p.server)->keys(p.server);
  ASSERT_FALSE(keys.ok());
  EXPECT_NE(keys.error().message.find("handshake"), std::string::npos);
}

// A TLS 1.3 KeyUpdate makes the counted keys stale: keys() must refuse rather than hand the
// kernel keys that no longer match.
TEST(Ktls, KeyUpdateFromTheClientRefusesKeys) {
  Pair p(kTlsCases[4]);
  ASSERT_TRUE(p.handshake());
  ASSERT_EQ(SSL_key_update(p.client, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
  std::string m = "after key update";
  ASSERT_GT(SSL_write(p.client, m.data(), static_cast<int>(m.size())), 0);
  p.pump();
  EXPECT_EQ(Pair::read_all(p.server), m);
  auto keys = Tracker::get(p.server)->keys(p.server);
  ASSERT_FALSE(keys.ok());
  EXPECT_NE(keys.error().message.find("KeyUpdate"), std::string::npos);
}

TEST(Ktls, TLS13NeedsTheKeylogCallback) {
  TlsCase c = kTlsCases[3];
  Pair p(c);
  // A context without prepare_ctx: no secrets reach the tracker.
  SSL_CTX_set_keylog_callback(p.sctx, nullptr);
  ASSERT_TRUE(p.handshake());
  auto keys = Tracker::get(p.server)->keys(p.server);
  ASSERT_FALSE(keys.ok());
  EXPECT_NE(keys.error().message.find("prepare_ctx"), std::string::npos);
}

// ---- records sealed in user space ----

class Sealer : public ::testing::TestWithParam<TlsCase> {};

// Pieces of every size, across record boundaries (more than two records' worth), with a
// session ticket and application data through OpenSSL before the switch, then the sealer's
// records, a KeyUpdate with more after it, and close_notify: the client reads it all, in order.
TEST_P(Sealer, ClientReadsWhatTheSealerWrote) {
  const TlsCase& tc = GetParam();
  Pair p(tc);
  ASSERT_TRUE(p.handshake());
  std::string before = "through OpenSSL";
  ASSERT_GT(SSL_write(p.server, before.data(), static_cast<int>(before.size())), 0);
  p.pump();
  EXPECT_EQ(Pair::read_all(p.client), before);
  auto keys = Tracker::get(p.server)->keys(p.server);
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  std::unique_ptr<RecordSealer> sealer = RecordSealer::create(*keys);
  if (tc.version != TLS1_3_VERSION) {
    EXPECT_EQ(sealer, nullptr);  // TLS 1.2 records stay OpenSSL's
    return;
  }
  ASSERT_NE(sealer, nullptr);
  std::string big(40000, '\0'), small = "9 bytes!!", mid(4096, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = char(i * 7 + i / 251);
  for (size_t i = 0; i < mid.size(); ++i) mid[i] = char(i * 13);
  iovec iov[] = {{small.data(), small.size()},
                 {big.data(), big.size()},
                 {mid.data(), 0},
                 {mid.data(), mid.size()},
                 {small.data(), small.size()}};
  std::string wire;
  ASSERT_TRUE(sealer->seal(wire, iov, std::size(iov)));
  size_t plain = small.size() * 2 + big.size() + mid.size();
  size_t records = (plain + RecordSealer::kRecordMax - 1) / RecordSealer::kRecordMax;
  EXPECT_EQ(wire.size(), plain + records * RecordSealer::kOverhead);
  EXPECT_EQ(sealer->records(), records);
  Pair::put(p.c_in, wire);
  EXPECT_EQ(Pair::read_all(p.client), small + big + mid + small);

  wire.clear();
  ASSERT_TRUE(sealer->seal_key_update(wire));
  std::string after = "under the next secret";
  iovec one = {after.data(), after.size()};
  ASSERT_TRUE(sealer->seal(wire, &one, 1));
  ASSERT_TRUE(sealer->seal_close_notify(wire));
  Pair::put(p.c_in, wire);
  EXPECT_EQ(Pair::read_all(p.client), after);
  EXPECT_EQ(SSL_get_error(p.client, SSL_read(p.client, wire.data(), 1)), SSL_ERROR_ZERO_RETURN);
}

// A record sealed with the wrong sequence number (what OpenSSL writing after the switch would
// amount to) is refused by the client: the numbers the sealer uses are the ones that count.
TEST(SealerOrder, AStaleSequenceIsRefused) {
  Pair p(kTlsCases[3]);
  ASSERT_TRUE(p.handshake());
  auto keys = Tracker::get(p.server)->keys(p.server);
  ASSERT_TRUE(keys.ok());
  keys->tx.seq += 1;
  auto sealer = RecordSealer::create(*keys);
  ASSERT_NE(sealer, nullptr);
  std::string m = "one off", wire;
  iovec iov = {m.data(), m.size()};
  ASSERT_TRUE(sealer->seal(wire, &iov, 1));
  Pair::put(p.c_in, wire);
  EXPECT_EQ(Pair::read_all(p.client), "");
  ERR_clear_error();
}

INSTANTIATE_TEST_SUITE_P(AllCiphers, Sealer, ::testing::ValuesIn(kTlsCases),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- the kernel side on this machine ----

bool tcp_pair(int& a, int& b) {
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  bind(ls, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  listen(ls, 1);
  getsockname(ls, reinterpret_cast<sockaddr*>(&sa), &len);
  a = socket(AF_INET, SOCK_STREAM, 0);
  bool ok = connect(a, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  b = accept(ls, nullptr, nullptr);
  close(ls);
  return ok && b >= 0;
}

TEST(Ktls, ProbeIsCachedAndConsistent) {
  const Probe& p = probe();
  EXPECT_EQ(&p, &probe());
  std::string s = p.summary();
  if (!p.ulp) {
    EXPECT_FALSE(p.any());
    EXPECT_EQ(s.rfind("unavailable: ", 0), 0u) << s;
    EXPECT_NE(p.reason.find("TCP_ULP"), std::string::npos) << p.reason;
  } else {
    EXPECT_NE(s.find("TLS1.3 AES-128-GCM"), std::string::npos) << s;
  }
}

// Where the kernel has no TLS, enable() fails at the ULP and the socket carries bytes as before.
TEST(Ktls, EnableFailsCleanlyWithoutKernelTls) {
  if (probe().ulp) GTEST_SKIP() << "this kernel has kTLS: " << probe().summary();
  int a, b;
  ASSERT_TRUE(tcp_pair(a, b));
  SessionKeys k;
  k.version = TLS1_3_VERSION;
  EnableResult r = enable(a, k);
  EXPECT_EQ(r.dirs, kNone);
  EXPECT_FALSE(r.ulp);
  EXPECT_EQ(r.error.code, ENOENT) << r.error.message;
  EXPECT_NE(r.error.message.find("TCP_ULP"), std::string::npos);
  ASSERT_EQ(send(a, "ping", 4, 0), 4);
  char buf[8];
  ASSERT_EQ(recv(b, buf, sizeof buf, 0), 4);
  EXPECT_EQ(std::string(buf, 4), "ping");
  close(a);
  close(b);
}

TEST(Ktls, RecordTypeControlData) {
  msghdr msg{};
  RecordTypeCmsg cm;
  cm.attach(msg, kAlert);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->cmsg_level, SOL_TLS);
  EXPECT_EQ(c->cmsg_type, TLS_SET_RECORD_TYPE);
  EXPECT_EQ(*CMSG_DATA(c), kAlert);
  // What recvmsg returns carries TLS_GET_RECORD_TYPE.
  EXPECT_FALSE(record_type(msg));
  c->cmsg_type = TLS_GET_RECORD_TYPE;
  EXPECT_EQ(record_type(msg), kAlert);
  msghdr none{};
  EXPECT_FALSE(record_type(none));
}

TEST(Ktls, ClassifyPolicy) {
  EXPECT_EQ(classify(kApplicationData, "abc").verdict, Verdict::kData);
  EXPECT_EQ(classify(kAlert, std::string("\x01\x00", 2)).verdict, Verdict::kEndOfStream);
  auto fatal = classify(kAlert, std::string("\x02\x28", 2));
  EXPECT_EQ(fatal.verdict, Verdict::kClose);
  EXPECT_NE(fatal.reason.find("40"), std::string::npos);
  EXPECT_EQ(classify(kAlert, "").verdict, Verdict::kClose);
  auto ku = classify(kHandshake, std::string("\x18\x00\x00\x01\x00", 5));
  EXPECT_EQ(ku.verdict, Verdict::kClose);
  EXPECT_NE(ku.reason.find("KeyUpdate"), std::string::npos);
  EXPECT_EQ(classify(kHandshake, std::string("\x04\x00", 2)).verdict, Verdict::kClose);
  EXPECT_EQ(classify(kChangeCipherSpec, "\x01").verdict, Verdict::kClose);
}

}  // namespace
}  // namespace askr::net::ktls
