// Which protocol a new client connection speaks, chosen in one place when its first bytes
// arrive: from TLS's ALPN result ("h2" or "http/1.1"; the handshake is done by then), or on a
// cleartext listener with h2c on, from those bytes (the HTTP/2 client preface, RFC 9113 §3.4:
// prior knowledge).
#pragma once

#include <memory>
#include <string_view>

#include "net/transport.h"
#include "server/connection.h"

namespace askr::server {

class Shard;

enum class Protocol : uint8_t {
  kHttp1,
  kHttp2,
  kSniff,  // cleartext with h2c on: decided by the first bytes
};

// `alpn`: what TLS negotiated, empty for cleartext or when the client offered no ALPN. `h2c`:
// the listener accepts HTTP/2 with prior knowledge (config::Listen::http2).
Protocol choose_protocol(bool secure, std::string_view alpn, bool h2c);

// The connection for a newly accepted transport; the shard puts it on its list and starts it.
// Until the first bytes say which protocol it speaks, that is a small chooser that then hands
// the transport and those bytes to an H1Conn or an H2Conn in its place.
Connection* make_connection(Shard& shard, std::unique_ptr<net::Transport> transport, bool h2c);

// The HTTP/2 client preface, which opens every HTTP/2 connection.
inline constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// What the first bytes of a cleartext connection say: HTTP/2 (the whole preface is there),
// HTTP/1.1 (they differ from it), or not yet known (a prefix of it).
enum class Sniffed : uint8_t { kHttp1, kHttp2, kNeedMore };
Sniffed sniff_preface(std::string_view first);

}  // namespace askr::server
