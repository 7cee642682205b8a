// A small blocking FastCGI client for driving askr-worker in tests, on the repo's codec. It
// writes and reads at the same time (poll), so a large body and a large answer never deadlock.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/fastcgi/decoder.h"

namespace askr::testing::worker {

using Params = std::vector<std::pair<std::string, std::string>>;
using Clock = std::chrono::steady_clock;

struct FcgiResponse {
  bool ended = false;  // END_REQUEST arrived
  uint32_t app_status = 0;
  fastcgi::ProtocolStatus protocol_status = fastcgi::ProtocolStatus::kRequestComplete;
  std::string out;            // STDOUT content, header block included
  std::string err;            // STDERR content
  size_t stdout_records = 0;  // STDOUT records, the empty one that ends the stream included
  // GET_VALUES_RESULT pairs received while waiting, and whether the first one came before any
  // STDOUT.
  Params values;
  bool values_before_stdout = false;
  Clock::time_point first_stdout{};
  Clock::time_point end{};
  // Records of other request ids (END_REQUEST of a refused BEGIN_REQUEST, ...): id, status.
  std::vector<std::pair<uint16_t, fastcgi::ProtocolStatus>> other_ends;

  // The CGI head, parsed from `out` by parse().
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names as sent
  std::string body;
  bool parse();
  std::string header(std::string_view name) const;  // first value, case-insensitive, or ""
  std::vector<std::string> all(std::string_view name) const;
  const std::string* value(std::string_view name) const;  // a GET_VALUES_RESULT pair
};

class FcgiConnection {
 public:
  explicit FcgiConnection(const std::string& socket_path);
  ~FcgiConnection();
  FcgiConnection(const FcgiConnection&) = delete;
  FcgiConnection& operator=(const FcgiConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Queues a whole request: BEGIN_REQUEST, PARAMS, STDIN (body, then its end unless
  // `end_stdin` is false).
  void queue_request(uint16_t id, const Params& params, std::string_view body = {},
                     bool keep_conn = false, bool end_stdin = true);
  void queue_raw(std::string_view bytes) { pending_.append(bytes); }
  // Sends what is queued and reads until END_REQUEST for `id` (or EOF, or the timeout).
  FcgiResponse exchange(uint16_t id, int timeout_ms = 20000);
  // Sends what is queued; reads until the first STDOUT content of `id` arrives. The response
  // so far is kept for the next exchange().
  bool wait_first_stdout(uint16_t id, int timeout_ms = 20000);
  // True when the peer closes the connection within timeout_ms (what arrives is dropped).
  bool wait_closed(int timeout_ms = 3000);

 private:
  bool pump(int timeout_ms);  // one poll round: write some, read some; false on EOF/error
  void on_bytes(std::string_view data);

  int fd_ = -1;
  std::string pending_;
  fastcgi::Decoder decoder_;
  FcgiResponse current_;
  uint16_t current_id_ = 0;
  std::string values_buf_;
  bool eof_ = false;
};

// Params as nginx's fastcgi_params would send for `script` (an absolute path) at `uri`.
Params default_params(const std::string& script, const std::string& query = "",
                      const std::string& method = "GET");
void set_param(Params& p, const std::string& name, const std::string& value);

// One request on a fresh connection.
FcgiResponse fcgi_request(const std::string& socket_path, const Params& params,
                          std::string_view body = {}, int timeout_ms = 20000);

}  // namespace askr::testing::worker
