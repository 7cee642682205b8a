#include "server/acceptor.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "net/listener.h"
#include "server/shard.h"
#include "shared/base/log.h"

namespace askr::server {
namespace {

// Errors that say the process or the system is short of a resource: accepting again at once
// fails the same way. Others (ECONNABORTED: the client gave up first) concern one connection.
bool out_of_resources(int error) {
  return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

std::string local_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return "listener";
  return net::format_address(reinterpret_cast<sockaddr*>(&ss));
}

}  // namespace

Acceptor::Acceptor(Shard& shard, int listen_fd, bool tls, bool http2)
    : shard_(shard), http2_(http2), tls_(tls) {
  fd = listen_fd;
  address_ = local_address(listen_fd);
}

void Acceptor::start() {
  update();
}

void Acceptor::pause() {
  paused_ = true;
  update();
}

void Acceptor::resume() {
  paused_ = false;
  update();
}

void Acceptor::tick(int64_t now_ms) {
  if (retry_at_ms_ == 0 || now_ms < retry_at_ms_) return;
  retry_at_ms_ = 0;
  update();
}

bool Acceptor::has_waiting() const {
  if (closed_ || fd < 0) return false;
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

void Acceptor::close() {
  if (closed_) return;
  closed_ = true;
  accepting_ = false;
  shard_.io().close(this);
}

void Acceptor::update() {
  bool want = !closed_ && !paused_ && retry_at_ms_ == 0;
  if (want == accepting_) return;
  accepting_ = want;
  if (want) {
    shard_.io().start_accept(this);
  } else {
    shard_.io().stop_accept(this);
  }
}

void Acceptor::on_accept(int fd_or_error) {
  if (fd_or_error < 0) return on_error(-fd_or_error);
  if (failures_ > 0) {
    LOG_INFO("accept on %s works again after %llu failed attempts", address_.c_str(),
             static_cast<unsigned long long>(failures_));
    failures_ = 0;
  }
  shard_.accept(fd_or_error, tls_, http2_);
}

void Acceptor::on_error(int error) {
  ++shard_.counters().accept_errors;
  if (!out_of_resources(error)) {
    LOG_DEBUG("accept on %s failed: %s", address_.c_str(), std::strerror(error));
    return;
  }
  // One line per episode: the retries that fail too are only counted.
  if (failures_++ == 0) {
    LOG_ERROR("accept on %s failed: %s; not accepting, retrying every %lld ms", address_.c_str(),
              std::strerror(error), static_cast<long long>(kRetryMs));
  }
  retry_at_ms_ = shard_.now_ms() + kRetryMs;
  update();
}

}  // namespace askr::server
