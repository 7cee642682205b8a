// libFuzzer target for what Askr itself parses of a ClientHello: the server_name extension
// (parse_sni_extension) and the certificate choice from the name it yields (SniMap). Invariants:
// a name comes back only as a view inside the input, made of printable ASCII without spaces;
// the map answers one of the sites it was given, or -1.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "net/sni.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

const askr::net::SniMap& map() {
  static const askr::net::SniMap m = [] {
    askr::net::SniMap s;
    s.add("example.com", 0);
    s.add("*.example.com", 1);
    s.add("a.test", 2);
    s.add("*.wild.test", 3);
    return s;
  }();
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view name = askr::net::parse_sni_extension(data, size);
  if (!name.empty()) {
    const char* begin = reinterpret_cast<const char*>(data);
    check(name.data() >= begin && name.data() + name.size() <= begin + size);
    for (char c : name) check(c > 0x20 && c < 0x7f);
  }
  // The same bytes as a supported_versions extension: a TLS 1.3 answer needs 03 04 in the list.
  if (askr::net::offers_tls13(data, size)) check(size >= 3);
  // The raw bytes as a host name too: any input is a possible SNI.
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  for (std::string_view host : {name, raw}) {
    int site = map().find(host);
    check(site >= -1 && site <= 3);
  }
  return 0;
}
