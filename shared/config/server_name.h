// Matching a host name (from a Host header or TLS SNI) against a site's server name. One rule
// for the router and the certificate choice, so that a request and its certificate agree.
#pragma once

#include <string_view>

namespace askr::config {

// ASCII case-insensitive equality.
inline bool same_name(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = char(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Whether `host` matches the wildcard `pattern` ("*.example.com"): exactly one non-empty label
// in place of the '*' ("a.example.com", not "example.com" nor "a.b.example.com"), as
// certificates match (RFC 6125 §6.4.3).
inline bool wildcard_matches(std::string_view pattern, std::string_view host) {
  if (!pattern.starts_with("*.")) return false;
  std::string_view suffix = pattern.substr(1);  // ".example.com"
  if (host.size() <= suffix.size()) return false;
  std::string_view label = host.substr(0, host.size() - suffix.size());
  if (label.find('.') != std::string_view::npos) return false;
  return same_name(host.substr(label.size()), suffix);
}

}  // namespace askr::config
