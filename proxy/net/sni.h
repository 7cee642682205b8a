// Choosing a site from the TLS server name (SNI): exact names first, then wildcards
// ("*.example.com" matches one label), as the router chooses a site from the Host header. Pure
// data, no OpenSSL: unit-tested and fuzzed alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace askr::net {

class SniMap {
 public:
  // `name`: a lower-cased server name, exact or "*.domain". The first site to add a name keeps it.
  void add(std::string_view name, int site);
  // The site for `host` (any case, a trailing dot ignored), or -1 when no name matches.
  int find(std::string_view host) const;

 private:
  std::unordered_map<std::string, int> exact_;
  std::vector<std::pair<std::string, int>> wildcards_;  // in config order
};

// The host name of a ClientHello's server_name extension (RFC 6066 §3): its extension_data as
// OpenSSL hands it over (SSL_client_hello_get0_ext). Empty when there is none or the data is
// malformed; the view points into `data`.
std::string_view parse_sni_extension(const uint8_t* data, size_t len);

// Whether a ClientHello's supported_versions extension (RFC 8446 §4.2.1), its extension_data as
// OpenSSL hands it over, lists TLS 1.3. False when the data is malformed.
bool offers_tls13(const uint8_t* data, size_t len);

}  // namespace askr::net
