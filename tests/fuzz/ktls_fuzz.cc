// libFuzzer target for what Askr parses around kernel TLS: the policy for records the kernel
// surfaces (net::ktls::classify, whose payload the client chose), the record type in recvmsg's
// control data (net::ktls::record_type and the loops' loop::tls_record_type, walked over
// arbitrary control bytes), and keylog lines reaching a Tracker. Input: the first byte is the
// record type, the rest is both the payload and the control data.
#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "loop/tls_record.h"
#include "net/ktls.h"

namespace {

using namespace askr::net::ktls;

void check(bool ok) {
  if (!ok) std::abort();
}

void fuzz_classify(uint8_t type, std::string_view payload) {
  RecordVerdict v = classify(type, payload);
  check((v.verdict == Verdict::kData) == (type == kApplicationData));
  check(v.verdict != Verdict::kEndOfStream ||
        (type == kAlert && payload.size() >= 2 && payload[1] == 0));
  check(v.verdict != Verdict::kClose || !v.reason.empty());
}

void fuzz_control(std::string_view bytes) {
  // Control data is cmsghdr-aligned; copy into an aligned buffer as the kernel would fill it.
  std::vector<cmsghdr> store(bytes.size() / sizeof(cmsghdr) + 1);
  std::memcpy(store.data(), bytes.data(), bytes.size());
  msghdr msg{};
  msg.msg_control = bytes.empty() ? nullptr : store.data();
  msg.msg_controllen = bytes.size();
  auto t = record_type(msg);
  uint8_t lt = askr::loop::tls_record_type(&msg);
  check(t ? lt == *t : lt == askr::loop::kTlsApplicationData);
}

void fuzz_keylog(std::string_view line) {
  static SSL_CTX* ctx = [] {
    SSL_CTX* c = SSL_CTX_new(TLS_server_method());
    prepare_ctx(c);
    return c;
  }();
  SSL* ssl = SSL_new(ctx);
  Tracker::attach(ssl);
  std::string l(line);
  on_keylog_line(ssl, l.c_str());
  auto keys = Tracker::get(ssl)->keys(ssl);  // never usable: no handshake happened
  check(!keys.ok());
  SSL_free(ssl);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  fuzz_classify(data[0], rest);
  fuzz_control(rest);
  fuzz_keylog(rest);
  return 0;
}
