// The TLS side of a config generation: one SSL_CTX per site that has certificates, the SNI map
// that picks among them, and the process-wide session ticket keys. Built at start (askr-proxy -t
// builds it too, so that every key is checked against its certificate and every cipher string
// against OpenSSL) and again on SIGHUP, when the certificate files are read anew (see
// LiveTlsContexts); each set is then shared read-only by every loop; the loops only call
// new_ssl(), and OpenSSL's callbacks below run on whichever loop is handshaking. A set must
// outlive every SSL made from it (its callbacks find it through the SSL_CTX): each TLS
// connection holds a reference.
//
// Which certificate a client gets: the site whose server name equals its SNI, else the first
// whose wildcard ("*.example.com", one label) matches, else the default: the config's default
// site (the first [[site]] without server_names, else the first) when it has a certificate,
// otherwise the first [[site]] that has one. A site that matches but has no certificate of its
// own is answered with the default certificate.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/sni.h"
#include "net/ticket_keys.h"
#include "shared/base/result.h"
#include "shared/config/config.h"

namespace askr::net {

class TlsContexts {
 public:
  // Null when no site has a certificate (then no listener may be TLS: the loader checked).
  // Fails with the first problem: an unreadable or unparsable certificate or key, a key that
  // does not match its certificate, a cipher, cipher suite or group list OpenSSL refuses.
  // `keys`: the ticket keys of the set this one replaces, so that tickets issued before a
  // reload still resume; null makes a new key set. `cfg` must outlive the contexts.
  static Result<std::unique_ptr<TlsContexts>> build(const config::Config& cfg,
                                                    std::shared_ptr<TicketKeys> keys = nullptr);
  ~TlsContexts();
  TlsContexts(const TlsContexts&) = delete;
  TlsContexts& operator=(const TlsContexts&) = delete;

  // A server-side SSL on the default context; SNI may move it to a site's context during the
  // ClientHello. ALPN offers h2 unless `http2` is false (the listener's setting). Null on
  // allocation failure.
  SSL* new_ssl(bool http2 = true) const;

  // The site (index into Config::sites) whose certificate answers `sni` ("" = no SNI).
  int site_for(std::string_view sni) const;
  int default_site() const { return default_; }
  // [tls] ktls: whether connections try kernel TLS after the handshake.
  config::Ktls ktls() const { return ktls_; }
  const std::shared_ptr<TicketKeys>& ticket_keys() const { return keys_; }

 private:
  struct SiteCtx {
    SSL_CTX* ctx = nullptr;  // the site's own, or the default site's (not owned then)
    bool own = false;
    const config::Site* site = nullptr;
    int min_version = 0;  // the site overrides [tls] protocols: set per connection
    int max_version = 0;
  };

  TlsContexts() = default;
  Result<SSL_CTX*> make_ctx(const config::Config& cfg, size_t index);
  static int on_client_hello(SSL* ssl, int* alert, void* arg);
  static int on_ticket_key(SSL* ssl, unsigned char key_name[16], unsigned char* iv,
                           EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int enc);

  std::vector<SiteCtx> sites_;  // one per Config::sites entry
  SniMap sni_;
  int default_ = -1;
  config::Ktls ktls_ = config::Ktls::kAuto;
  std::shared_ptr<TicketKeys> keys_;  // shared with the sets before and after a reload
};

// The error queue of OpenSSL as one line (and cleared).
std::string openssl_errors();

}  // namespace askr::net
