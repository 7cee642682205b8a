#include "net/plain_transport.h"

#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
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

bool PlainTransport::peer_left_short_of(uint64_t bytes) {
  return socket_peer_left_short_of(fd, bytes);
}

bool socket_peer_left_short_of(int fd, uint64_t bytes) {
  pollfd p{fd, POLLRDHUP, 0};
  if (::poll(&p, 1, 0) != 1) return false;
  if (p.revents & POLLERR) return true;  // reset: nothing more will be read
  if (!(p.revents & (POLLRDHUP | POLLHUP))) return false;
  int unread = 0;
  return ::ioctl(fd, FIONREAD, &unread) == 0 && uint64_t(unread) < bytes;
}

void PlainTransport::shutdown_write() {
  ::shutdown(fd, SHUT_WR);
}

}  // namespace askr::net
