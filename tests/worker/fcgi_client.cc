#include "fcgi_client.h"

#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "shared/fastcgi/cgi_response.h"
#include "shared/fastcgi/encoder.h"

namespace askr::testing::worker {

using fastcgi::RecordType;

bool FcgiResponse::parse() {
  fastcgi::CgiResponseParser parser;
  std::string_view rest;
  if (parser.feed(out, rest) != fastcgi::CgiResponseParser::State::kDone) return false;
  status = parser.status();
  headers.clear();
  for (const fastcgi::CgiHeader& h : parser.headers()) headers.emplace_back(h.name, h.value);
  body.assign(rest);
  return true;
}

std::string FcgiResponse::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n.size() == name.size() && strncasecmp(n.data(), name.data(), n.size()) == 0) return v;
  }
  return {};
}

std::vector<std::string> FcgiResponse::all(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [n, v] : headers) {
    if (n.size() == name.size() && strncasecmp(n.data(), name.data(), n.size()) == 0) {
      out.push_back(v);
    }
  }
  return out;
}

const std::string* FcgiResponse::value(std::string_view name) const {
  for (const auto& [n, v] : values) {
    if (n == name) return &v;
  }
  return nullptr;
}

FcgiConnection::FcgiConnection(const std::string& socket_path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.data(),
              std::min(socket_path.size(), sizeof addr.sun_path - 1));
  fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd_);
    fd_ = -1;
  }
}

FcgiConnection::~FcgiConnection() {
  if (fd_ >= 0) close(fd_);
}

void FcgiConnection::queue_request(uint16_t id, const Params& params, std::string_view body,
                                   bool keep_conn, bool end_stdin) {
  fastcgi::begin_request(pending_, id, fastcgi::Role::kResponder, keep_conn);
  fastcgi::ParamsWriter w(pending_, id);
  for (const auto& [n, v] : params) w.add(n, v);
  w.finish();
  fastcgi::end_params(pending_, id);
  fastcgi::stream(pending_, RecordType::kStdin, id, body);
  if (end_stdin) fastcgi::end_stream(pending_, RecordType::kStdin, id);
}

bool FcgiConnection::pump(int timeout_ms) {
  if (fd_ < 0 || eof_) return false;
  pollfd p{fd_, short(POLLIN | (pending_.empty() ? 0 : POLLOUT)), 0};
  int n = poll(&p, 1, timeout_ms);
  if (n <= 0) return n == 0;
  if ((p.revents & POLLOUT) && !pending_.empty()) {
    ssize_t w = send(fd_, pending_.data(), pending_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) pending_.erase(0, size_t(w));
    if (w < 0 && errno != EAGAIN && errno != EINTR) pending_.clear();
  }
  if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
    char buf[65536];
    ssize_t r = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (r > 0) {
      on_bytes({buf, size_t(r)});
    } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
      eof_ = true;
      return false;
    }
  }
  return true;
}

void FcgiConnection::on_bytes(std::string_view data) {
  while (true) {
    fastcgi::Decoder::Step s = decoder_.next(data);
    data.remove_prefix(s.consumed);
    if (s.status != fastcgi::Decoder::Status::kContent) return;
    FcgiResponse& r = current_;
    bool mine = s.request_id == current_id_;
    switch (s.type) {
      case RecordType::kStdout:
        if (!mine) break;
        if (r.out.empty() && !s.content.empty()) r.first_stdout = Clock::now();
        r.out.append(s.content);
        if (s.end_of_record) ++r.stdout_records;
        break;
      case RecordType::kStderr:
        if (mine) r.err.append(s.content);
        break;
      case RecordType::kEndRequest: {
        std::optional<fastcgi::EndRequest> end = fastcgi::parse_end_request(s.content);
        if (!end) break;
        if (!mine) {
          r.other_ends.emplace_back(s.request_id, end->protocol_status);
          break;
        }
        r.ended = true;
        r.app_status = end->app_status;
        r.protocol_status = end->protocol_status;
        r.end = Clock::now();
        break;
      }
      case RecordType::kGetValuesResult: {
        values_buf_.append(s.content);
        if (!s.end_of_record) break;
        if (r.values.empty()) r.values_before_stdout = r.out.empty();
        fastcgi::ParamsParser parser;
        std::string_view in = values_buf_;
        for (;;) {
          fastcgi::ParamsParser::Step p = parser.next(in);
          in.remove_prefix(p.consumed);
          if (p.status != fastcgi::ParamsParser::Status::kPair) break;
          r.values.emplace_back(p.name, p.value);
        }
        values_buf_.clear();
        break;
      }
      default:
        break;
    }
  }
}

FcgiResponse FcgiConnection::exchange(uint16_t id, int timeout_ms) {
  if (current_id_ != id) {
    current_ = FcgiResponse{};
    current_id_ = id;
  }
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!current_.ended && Clock::now() < deadline) {
    if (!pump(50) && eof_) break;
  }
  FcgiResponse r = std::move(current_);
  current_ = FcgiResponse{};
  current_id_ = 0;
  r.parse();
  return r;
}

bool FcgiConnection::wait_first_stdout(uint16_t id, int timeout_ms) {
  if (current_id_ != id) {
    current_ = FcgiResponse{};
    current_id_ = id;
  }
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (current_.out.empty() && !current_.ended && Clock::now() < deadline) {
    if (!pump(50) && eof_) break;
  }
  return !current_.out.empty();
}

bool FcgiConnection::wait_closed(int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    if (!pump(50) && eof_) return true;
  }
  return false;
}

Params default_params(const std::string& script, const std::string& query,
                      const std::string& method) {
  std::string name = script.substr(script.rfind('/'));
  std::string dir = script.substr(0, script.rfind('/'));
  Params p = {
      {"SCRIPT_FILENAME", script},
      {"QUERY_STRING", query},
      {"REQUEST_METHOD", method},
      {"CONTENT_TYPE", ""},
      {"CONTENT_LENGTH", ""},
      {"SCRIPT_NAME", name},
      {"REQUEST_URI", query.empty() ? name : name + "?" + query},
      {"DOCUMENT_URI", name},
      {"DOCUMENT_ROOT", dir},
      {"SERVER_PROTOCOL", "HTTP/1.1"},
      {"REQUEST_SCHEME", "http"},
      {"GATEWAY_INTERFACE", "CGI/1.1"},
      {"SERVER_SOFTWARE", "askr-test"},
      {"REMOTE_ADDR", "127.0.0.1"},
      {"REMOTE_PORT", "40000"},
      {"SERVER_ADDR", "127.0.0.1"},
      {"SERVER_PORT", "80"},
      {"SERVER_NAME", "localhost"},
      {"REDIRECT_STATUS", "200"},
      {"HTTP_HOST", "localhost"},
  };
  return p;
}

void set_param(Params& p, const std::string& name, const std::string& value) {
  for (auto& [n, v] : p) {
    if (n == name) {
      v = value;
      return;
    }
  }
  p.emplace_back(name, value);
}

FcgiResponse fcgi_request(const std::string& socket_path, const Params& params,
                          std::string_view body, int timeout_ms) {
  FcgiConnection c(socket_path);
  if (!c.connected()) return {};
  c.queue_request(1, params, body);
  return c.exchange(1, timeout_ms);
}

}  // namespace askr::testing::worker
