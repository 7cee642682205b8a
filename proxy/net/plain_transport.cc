#include "net/plain_transport.h"

#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <cerrno>

namespace askr::net {

PlainTransport::PlainTransport(loop::Backend& io, int socket_fd) : io_(io) {
  fd = socket_fd;
}

PlainTransport::~PlainTransport() = default;

void PlainTransport::start(TransportUser* user) {
  user_ = user;
}

static_assert(Transport::kMaxSendIovs <= loop::Backend::kMaxSendIovs);

void PlainTransport::send(const iovec* iov, size_t count, bool more) {
  io_.sendv(this, iov, count, more);
}

ssize_t PlainTransport::send_file(int file_fd, off_t* offset, size_t count) {
  ssize_t n = ::sendfile(fd, file_fd, offset, count);
  return n < 0 ? -errno : n;
}

void PlainTransport::set_corked(bool corked) {
  int on = corked;
  setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
}

void PlainTransport::shutdown_write() {
  ::shutdown(fd, SHUT_WR);
}

}  // namespace askr::net
