#include "net/tls_context.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <algorithm>
#include <ctime>
#include <vector>

#include "net/ktls.h"

namespace askr::net {
namespace {

constexpr long kSessionTimeout = 12 * 3600;  // how long a ticket resumes (TicketKeys::kLifetime)

// Lets each SSL find its TlsContexts from its SSL_CTX.
int g_ctx_index = -1;
// Set (to any non-null pointer) on an SSL accepted by a listener with `http2 = false`.
int g_http1_only_index = -1;

// ALPN: h2, then http/1.1, in our order (the connection's protocol follows: server/protocol.h);
// http/1.1 alone on a listener with `http2 = false`. A client that offers none of them gets no
// ALPN answer rather than a fatal alert: it learns that nothing was chosen and may still speak
// HTTP/1.1, which is what curl and browsers do.
int on_alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
            unsigned inlen, void*) {
  static const unsigned char kProtos[] = "\x02h2\x08http/1.1";  // h2 preferred
  const unsigned char* protos = kProtos;
  unsigned protos_len = sizeof kProtos - 1;
  if (SSL_get_ex_data(ssl, g_http1_only_index)) protos += 3, protos_len -= 3;
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, protos, protos_len, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

// OpenSSL's default asks for a key's pass phrase on the terminal: a read that would block the
// main thread (a start in the foreground, -t, a SIGHUP reload, after which no signal is taken)
// until someone types. A key under a pass phrase is refused instead, as nginx refuses it
// without ssl_password_file. Contexts are built on the main thread alone.
thread_local bool g_pass_phrase_asked = false;
int refuse_pass_phrase(char*, int, int, void*) {
  g_pass_phrase_asked = true;
  return 0;  // no phrase: the key does not load
}

// A certificate's key type, as an operator names it.
std::string key_type_name(int type) {
  switch (type) {
    case EVP_PKEY_RSA:
      return "RSA";
    case EVP_PKEY_EC:
      return "ECDSA";
    case EVP_PKEY_ED25519:
      return "Ed25519";
    default:
      return OBJ_nid2sn(type);
  }
}

void versions(uint8_t protocols, int& min, int& max) {
  min = protocols & config::kTls12 ? TLS1_2_VERSION : TLS1_3_VERSION;
  max = protocols & config::kTls13 ? TLS1_3_VERSION : TLS1_2_VERSION;
}

}  // namespace

std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

Result<std::unique_ptr<TlsContexts>> TlsContexts::build(const config::Config& cfg,
                                                        std::shared_ptr<TicketKeys> keys) {
  std::unique_ptr<TlsContexts> t(new TlsContexts());
  t->keys_ = keys ? std::move(keys) : std::make_shared<TicketKeys>();
  t->ktls_ = cfg.tls.ktls;
  if (g_ctx_index < 0)
    g_ctx_index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  if (g_http1_only_index < 0)
    g_http1_only_index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  const std::vector<config::Site>& sites = cfg.sites;
  t->sites_.resize(sites.size());
  for (size_t i = 0; i < sites.size(); ++i) {
    t->sites_[i].site = &sites[i];
    if (sites[i].certificates.empty()) continue;
    Result<SSL_CTX*> ctx = t->make_ctx(cfg, i);
    if (!ctx) return ctx.error();
    t->sites_[i].ctx = *ctx;
    t->sites_[i].own = true;
    if (t->default_ < 0) t->default_ = int(i);
  }
  if (t->default_ < 0) return std::unique_ptr<TlsContexts>();
  if (!sites[cfg.default_site].certificates.empty()) t->default_ = int(cfg.default_site);
  for (size_t i = 0; i < sites.size(); ++i) {
    SiteCtx& s = t->sites_[i];
    if (!s.own) s.ctx = t->sites_[size_t(t->default_)].ctx;
    if (s.site->tls.protocols) versions(s.site->tls.protocols, s.min_version, s.max_version);
    for (const std::string& name : sites[i].server_names) t->sni_.add(name, int(i));
  }
  t->keys_->encrypt_key(time(nullptr));  // the first key, made now rather than on a loop
  return t;
}

TlsContexts::~TlsContexts() {
  for (SiteCtx& s : sites_) {
    if (s.own) SSL_CTX_free(s.ctx);
  }
}

// One site's context: [tls] with the site's overrides, and its certificates. What OpenSSL
// refuses is reported as the loader reports its errors, "FILE:LINE:COLUMN: ...", at the value
// refused.
Result<SSL_CTX*> TlsContexts::make_ctx(const config::Config& cfg, size_t index) {
  const config::Site& site = cfg.sites[index];
  const config::Tls& tls = cfg.tls;
  std::string where = "site " + std::to_string(index + 1) +
                      (site.server_names.empty() ? "" : " (" + site.server_names[0] + ")");
  auto fail = [&](SSL_CTX* ctx, config::SourceAt at, std::string what) -> Result<SSL_CTX*> {
    SSL_CTX_free(ctx);
    std::string file = cfg.file;  // as the loader's diagnostics name it
    if (at.line) file += ":" + std::to_string(at.line) + ":" + std::to_string(at.column);
    return Error{0,
                 (file.empty() ? "" : file + ": ") + where + ": " + what + ": " + openssl_errors()};
  };
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return fail(nullptr, {}, "SSL_CTX_new");
  int min = 0, max = 0;
  versions(site.tls.protocols ? site.tls.protocols : tls.protocols, min, max);
  SSL_CTX_set_min_proto_version(ctx, min);
  SSL_CTX_set_max_proto_version(ctx, max);
  // No renegotiation (a client could make the server pay handshakes at will), no compression
  // (CRIME). The cipher order is chosen per connection (on_client_hello).
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (!tls.session_tickets) SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  // Idle connections give their record buffers back (a keep-alive connection waits mostly).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  // No server-side cache: a cache is per process and per lookup locked; tickets resume on any
  // loop without one. With SSL_OP_NO_TICKET clear, TLS 1.3 tickets are stateless too.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_timeout(ctx, kSessionTimeout);
  // One TLS 1.3 ticket per handshake: a resumed connection gets a fresh one, and most clients
  // keep only the latest; each ticket costs an encryption and a record on every connection.
  SSL_CTX_set_num_tickets(ctx, tls.session_tickets ? 1 : 0);
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket_key);
  // Tickets are bound to the site that issued them: no resumption under another certificate.
  std::string sid = "askr-site-" + std::to_string(index);
  SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char*>(sid.data()),
                                 unsigned(sid.size()));
  bool own_ciphers = !site.tls.ciphers.empty(), own_suites = !site.tls.ciphersuites.empty();
  const std::string& ciphers = own_ciphers ? site.tls.ciphers : tls.ciphers;
  const std::string& suites = own_suites ? site.tls.ciphersuites : tls.ciphersuites;
  if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) {
    return fail(ctx, own_ciphers ? site.tls.ciphers_at : tls.ciphers_at,
                "ciphers \"" + ciphers + "\" refused");
  }
  if (SSL_CTX_set_ciphersuites(ctx, suites.c_str()) != 1) {
    return fail(ctx, own_suites ? site.tls.ciphersuites_at : tls.ciphersuites_at,
                "ciphersuites \"" + suites + "\" refused");
  }
  if (SSL_CTX_set1_groups_list(ctx, tls.groups.c_str()) != 1) {
    return fail(ctx, tls.groups_at, "groups \"" + tls.groups + "\" refused");
  }
  SSL_CTX_set_dh_auto(ctx, 1);  // DHE-RSA of the intermediate profile: RFC 7919 groups
  SSL_CTX_set_alpn_select_cb(ctx, on_alpn, nullptr);
  SSL_CTX_set_client_hello_cb(ctx, on_client_hello, this);
  SSL_CTX_set_ex_data(ctx, g_ctx_index, this);
  // kTLS, and the transport sealing records itself without it, need the TLS 1.3 traffic
  // secrets (the keylog callback), on every site's context, since SNI may move a connection to
  // any of them.
  ktls::prepare_ctx(ctx);
  // Each pair goes to the slot of its key type (RSA, ECDSA, ...): OpenSSL then picks the one the
  // client's signature algorithms allow.
  SSL_CTX_set_default_passwd_cb(ctx, refuse_pass_phrase);
  std::vector<int> key_types;
  for (const config::Certificate& c : site.certificates) {
    if (SSL_CTX_use_certificate_chain_file(ctx, c.certificate.c_str()) != 1) {
      return fail(ctx, c.certificate_at, "tls_certificate \"" + c.certificate + "\"");
    }
    // A second certificate of a type would take the first one's slot without a word.
    int type = EVP_PKEY_get_base_id(X509_get0_pubkey(SSL_CTX_get0_certificate(ctx)));
    if (std::find(key_types.begin(), key_types.end(), type) != key_types.end()) {
      return fail(ctx, c.certificate_at,
                  "tls_certificate \"" + c.certificate + "\": a second " + key_type_name(type) +
                      " certificate for the site (give one per key type: an "
                      "ECDSA and an RSA one)");
    }
    key_types.push_back(type);
    g_pass_phrase_asked = false;
    if (SSL_CTX_use_PrivateKey_file(ctx, c.key.c_str(), SSL_FILETYPE_PEM) != 1) {
      if (g_pass_phrase_asked) {
        return fail(ctx, c.key_at,
                    "tls_certificate_key \"" + c.key +
                        "\" is protected by a pass phrase, which askr-proxy does not ask for (give "
                        "it the key without one)");
      }
      return fail(
          ctx, c.key_at,
          "tls_certificate_key \"" + c.key + "\" (does it match \"" + c.certificate + "\"?)");
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      return fail(ctx, c.key_at,
                  "tls_certificate_key \"" + c.key + "\" does not match \"" + c.certificate + "\"");
    }
  }
  return ctx;
}

SSL* TlsContexts::new_ssl(bool http2) const {
  SSL* ssl = SSL_new(sites_[size_t(default_)].ctx);
  static char http1_only;
  if (ssl && !http2 && SSL_set_ex_data(ssl, g_http1_only_index, &http1_only) != 1) {
    SSL_free(ssl);
    return nullptr;
  }
  return ssl;
}

int TlsContexts::site_for(std::string_view sni) const {
  int site = sni_.find(sni);
  return site < 0 ? default_ : site;
}

// Called first in the ClientHello, before the version and the cipher are chosen: moves the
// connection to its site's context (certificates, tickets bound to the site) and applies what
// the site overrides. SSL_set_SSL_CTX keeps the connection's versions and cipher lists, hence
// the per-connection calls for a site that has its own.
int TlsContexts::on_client_hello(SSL* ssl, int* alert, void* arg) {
  const auto* self = static_cast<const TlsContexts*>(arg);
  const unsigned char* ext = nullptr;
  size_t len = 0;
  std::string_view name;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext, &len) == 1) {
    name = parse_sni_extension(ext, len);
  }
  const SiteCtx& s = self->sites_[size_t(self->site_for(name))];
  if (SSL_get_SSL_CTX(ssl) != s.ctx) SSL_set_SSL_CTX(ssl, s.ctx);
  const config::SiteTls& o = s.site->tls;
  bool ok = true;
  if (s.min_version) {
    ok = SSL_set_min_proto_version(ssl, s.min_version) == 1 &&
         SSL_set_max_proto_version(ssl, s.max_version) == 1;
  }
  if (!o.ciphers.empty()) ok = ok && SSL_set_cipher_list(ssl, o.ciphers.c_str()) == 1;
  if (!o.ciphersuites.empty()) ok = ok && SSL_set_ciphersuites(ssl, o.ciphersuites.c_str()) == 1;
  // TLS 1.3: the client's cipher order (every suite is strong; the client knows whether it has
  // AES instructions). TLS 1.2: the server's, the configured list's order, as testssl.sh and
  // similar audits ask for, except that a client that ranks ChaCha20 first (one without AES
  // instructions) gets it.
  int max = SSL_get_max_proto_version(ssl);  // 0: no limit
  if ((max != 0 && max < TLS1_3_VERSION) ||
      SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_supported_versions, &ext, &len) != 1 ||
      !offers_tls13(ext, len)) {
    SSL_set_options(ssl, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA);
  }
  if (!ok) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  return SSL_CLIENT_HELLO_SUCCESS;
}

// Session tickets under the process-wide keys (RFC 5077's recommended construction:
// AES-256-CBC + HMAC-SHA256). Returns 1: use this key; 2: it decrypts but is no longer the
// current one (the client gets a new ticket); 0: unknown or expired key (full handshake).
int TlsContexts::on_ticket_key(SSL* ssl, unsigned char key_name[16], unsigned char* iv,
                               EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int enc) {
  auto* self = static_cast<TlsContexts*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), g_ctx_index));
  if (!self) return -1;
  int64_t now = time(nullptr);
  TicketKeys::Key key;
  int result = 1;
  if (enc) {
    key = self->keys_->encrypt_key(now);
    memcpy(key_name, key.name, sizeof key.name);
    if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1) return -1;
    if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes, iv) != 1) return -1;
  } else {
    uint8_t name[16];
    memcpy(name, key_name, sizeof name);
    bool current = false;
    std::optional<TicketKeys::Key> k = self->keys_->decrypt_key(name, now, current);
    if (!k) return 0;
    key = *k;
    result = current ? 1 : 2;
    if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes, iv) != 1) return -1;
  }
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac, sizeof key.hmac),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  return result;
}

}  // namespace askr::net
