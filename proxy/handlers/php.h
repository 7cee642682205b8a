// The PHP handler: maps a request onto a script beneath the site root (PATH_INFO split, index
// files, front controller), builds the FastCGI request nginx's fastcgi_params would, streams
// the request body to the backend and the response back to the client.
#pragma once

#include <sys/socket.h>

#include <memory>
#include <optional>
#include <string>

#include "backend/exchange.h"
#include "backend/pool_client.h"
#include "backend/stdin_splice.h"
#include "backend/stdout_splice.h"
#include "handlers/static_files.h"
#include "handlers/stream.h"
#include "http/request.h"
#include "http/sink.h"
#include "shared/base/recycled.h"
#include "shared/fastcgi/cgi_response.h"

namespace askr::handlers {

struct PhpScript {
  // SCRIPT_FILENAME: absolute path under the root or alias, as the request names it (a symlink
  // on the way is not resolved: nginx's $document_root$fastcgi_script_name)
  std::string filename;
  std::string_view document_root;  // DOCUMENT_ROOT: the root or alias `filename` is under
  std::string name;                // SCRIPT_NAME: "/dir/index.php"
  std::string path_info;           // PATH_INFO: "/a/b" or ""
};

enum class PhpMatch : uint8_t {
  kScript,    // run `script`
  kStatic,    // not PHP: serve as a static file
  kNotFound,  // a .php path (or .php index) that is no script, and no front controller applies
};

// Decides what a request under a PHP-enabled location runs, from its normalized path, looked up
// in `files` (the route's root or alias, or the site's). `front_controller` ("" for none) is
// relative to the site's root, `site_files`, like nginx's try_files fallback to a URI that the
// site's location serves. Mirrors the usual nginx setup:
//   location / { try_files $uri $uri/ /index.php?$query_string; }
//   location ~ \.php { fastcgi_split_path_info ^(.+?\.php)(/.*)$;
//                      try_files $fastcgi_script_name =404; fastcgi_pass ...; }
// (the first ".php/" that ends a regular file splits the script from PATH_INFO; directories named
// "*.php" are passed over)
// and under an alias, SCRIPT_FILENAME is the alias-mapped file ($request_filename). What each
// path is comes from `cache` (may be null) when it was looked up within the same second, as
// nginx's open_file_cache keeps try_files' lookups.
PhpMatch match_php(const StaticSite& files, const StaticSite& site_files,
                   std::string_view front_controller, std::string_view path, PhpScript& out,
                   FileCache* cache = nullptr);

// What the request core tells PHP about where the request arrived.
struct ClientInfo {
  std::string_view server_name;  // the site's first name, else the request's host as $host
  std::string_view document_root;
};

struct PhpLimits {
  uint64_t body_buffer_size = 64 * 1024;  // chunked bodies above this spill to a temp file
  std::string temp_dir = "/tmp";
};

// One PHP request in flight, as the request core's Stream: it builds the FastCGI request
// nginx's fastcgi_params would, streams the body to the backend and the response back into
// `sink`. `body_source` is told to resume reading when the backend drains. `req` must outlive
// start(); nothing in it is used afterwards.
//
// Each request is timed in three stages (timing(), the pool's counters, the JSON access log):
// - queued: from pool dispatch (PoolClient::acquire) until a connection to a worker is attached;
// - in PHP: from the moment the whole request is handed to that connection (or PHP's first
//   output, if that comes sooner: a script may answer while its body still streams) until the
//   backend's END_REQUEST, less the time reading from PHP was paused for a slow client;
// - I/O: the rest of the request's life in the handler: building and sending the request,
//   and the time the response waited on the client.
class PhpRequest final : public Stream,
                         public backend::Exchange,
                         public http::BodyProducer,
                         public base::Recycled<PhpRequest> {
 public:
  PhpRequest(backend::PoolClient& pool, http::ResponseSink& sink, http::BodyProducer& body_source,
             const PhpLimits& limits, const http::Request& req, const PhpScript& script,
             ClientInfo client);
  ~PhpRequest() override;
  PhpRequest(const PhpRequest&) = delete;
  PhpRequest& operator=(const PhpRequest&) = delete;
  // The object's memory comes from, and goes back to, a free list of the loop's thread
  // (base::Recycled).

  struct Buffers;  // php.cc
  struct Context;  // php.cc

  // Stream
  void start() override;
  bool body(std::string_view data) override;
  void end_body() override;
  void abandon() override;
  uint64_t splice_threshold() const override;
  void splice_rest(SpliceSource& source, uint64_t length) override;
  void on_client_readable() override;
  const BackendTiming* timing() const override { return timed_ ? &timing_ : nullptr; }

 private:
  enum class BodyMode : uint8_t { kNone, kStream, kCollect };

  // backend::Exchange
  void on_link(backend::FcgiLink* link) override;
  void on_stdout(std::string_view data) override;
  void on_records_done() override;
  void on_end() override;
  void on_failure(int status, const char* why) override;
  void on_link_drained() override;
  void on_link_writable() override;
  void on_link_recv_stopped() override;
  void on_link_readable() override;
  bool retryable() const override { return retry_ok_; }
  void describe(std::string& line) const override;
  std::string_view request_bytes() const override { return sent_; }
  // http::BodyProducer: the client side has room again.
  void on_sink_drained() override;

  void begin();
  void send(std::string_view bytes);
  void send_early_hints();
  bool start_response();
  void note_skipped_lines();
  void write_body(std::string_view data);
  // Ends the exchange with `status`: the link (if any) is dropped and the sink told.
  void fail(int status);
  void refuse_split_param(std::string_view name);
  bool spill(std::string_view data);
  void send_collected();
  void send_stdin(std::string_view data);
  void try_splice();
  void maybe_splice_out();
  void try_splice_out();
  void end_splice_out();
  void request_complete();  // the request's last byte has been produced
  void php_started();       // first call only: the "in PHP" stage begins
  void end_timing();        // first call only: fills timing_ and the pool's totals

  backend::PoolClient& pool_;
  http::ResponseSink& sink_;
  http::BodyProducer& body_source_;
  const PhpLimits& limits_;
  const http::Request* req_;
  ClientInfo client_;
  backend::FcgiLink* link_ = nullptr;
  // The buffers below come from the loop's spares and go back there with the request, so
  // that a request allocates none of them once the loop has served a few.
  std::unique_ptr<Buffers> bufs_;
  PhpScript& script_;  // a copy of the constructor's, in bufs_
  fastcgi::CgiResponseParser& cgi_;
  std::string& pending_;  // request bytes produced before a link is attached
  std::string& sent_;     // what a retry would send again (from the first on_link on)
  bool retry_ok_ = true;
  bool attached_ = false;  // on_link has run once: a second call is a retry
  std::vector<http::Response::Field>& fields_;
  BodyMode mode_ = BodyMode::kNone;
  bool body_done_ = false;
  bool head_sent_ = false;
  int early_hints_ = 0;  // 103 heads passed on
  bool finished_ = false;
  bool is_head_ = false;
  std::optional<uint64_t> length_;  // the response's Content-Length, when PHP set one
  uint64_t body_bytes_ = 0;         // response body bytes passed to the sink
  bool length_exceeded_ = false;
  bool no_content_ = false;  // a 205: the body PHP writes is not sent
  bool body_paused_ = false;
  std::string params_;     // kCollect: params wait for CONTENT_LENGTH
  std::string collected_;  // kCollect: the body while it fits in memory
  int spill_fd_ = -1;      // kCollect: the body once it does not
  uint64_t collected_bytes_ = 0;
  uint64_t spill_sent_ = 0;  // kCollect from a file: bytes already sent to the backend
  std::unique_ptr<backend::StdinSplice> splice_;
  SpliceSource* splice_source_ = nullptr;
  // Response splice (pool -> pipe -> client): wanted from the head on, then running.
  bool splice_out_wanted_ = false;
  bool spliced_ = false;  // some of the body went by splice (counted once)
  std::unique_ptr<backend::StdoutSplice> out_splice_;
  http::SpliceTarget* splice_target_ = nullptr;
  // Timing (µs on CLOCK_MONOTONIC; 0: not reached).
  int64_t start_us_ = 0;
  int64_t queue_us_ = 0;         // dispatched to the pool
  int64_t link_us_ = 0;          // a connection attached
  int64_t php_us_ = 0;           // the "in PHP" stage began
  int64_t paused_us_ = 0;        // reading from PHP paused for the client since
  uint64_t client_wait_us_ = 0;  // total of those pauses
  bool request_complete_ = false;
  bool timed_ = false;
  BackendTiming timing_;
};

}  // namespace askr::handlers
