#include "loop/probe.h"

#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace askr::loop {

UringProbe probe_io_uring() {
  UringProbe p;
  io_uring ring;
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  int r = io_uring_queue_init_params(8, &ring, &params);
  if (r < 0) {
    p.reason = std::string("io_uring_setup failed: ") + std::strerror(-r);
    if (r == -EPERM) p.reason += " (kernel.io_uring_disabled or seccomp?)";
    return p;
  }
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  if (!probe) {
    io_uring_queue_exit(&ring);
    p.reason = "IORING_REGISTER_PROBE failed";
    return p;
  }
  static const std::pair<const char*, int> kNeeded[] = {
      {"ACCEPT", IORING_OP_ACCEPT},
      {"RECV", IORING_OP_RECV},
      {"SEND", IORING_OP_SEND},
      {"POLL_ADD", IORING_OP_POLL_ADD},
      {"ASYNC_CANCEL", IORING_OP_ASYNC_CANCEL},
      {"READ", IORING_OP_READ},
      {"PROVIDE_BUFFERS", IORING_OP_PROVIDE_BUFFERS},
      {"SPLICE", IORING_OP_SPLICE},
  };
  p.usable = true;
  for (auto [name, op] : kNeeded) {
    bool ok = io_uring_opcode_supported(probe, op);
    p.opcodes.push_back({name, ok});
    if (!ok) {
      p.usable = false;
      p.reason += std::string(p.reason.empty() ? "" : ", ") + "no IORING_OP_" + name;
    }
  }
  io_uring_free_probe(probe);
  // The provided buffer ring (5.19+) is what multishot recv needs; register one to be sure.
  io_uring_buf_ring* br = nullptr;
  void* mem = std::aligned_alloc(4096, 4096);
  br = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(br);
  reg.ring_entries = 8;
  reg.bgid = 7;
  r = io_uring_register_buf_ring(&ring, &reg, 0);
  p.opcodes.push_back({"buffer ring", r == 0});
  if (r < 0) {
    p.usable = false;
    p.reason += std::string(p.reason.empty() ? "" : ", ") + "no provided buffer ring";
  }
  io_uring_queue_exit(&ring);
  std::free(mem);
  return p;
}

bool probe_ktls(std::string& detail) {
  // The ULP attaches only to a connected TCP socket: make one over loopback.
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bool ok = false;
  if (ls >= 0 && bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && listen(ls, 1) == 0 &&
      getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    int cs = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (cs >= 0 && connect(cs, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      if (setsockopt(cs, SOL_TCP, TCP_ULP, "tls", sizeof "tls") == 0) {
        ok = true;
        detail = "tls ULP available";
      } else {
        detail = std::string("setsockopt(TCP_ULP, \"tls\") failed: ") + std::strerror(errno) +
                 (errno == ENOENT ? " (kernel built without CONFIG_TLS or module not loaded)" : "");
      }
    } else {
      detail = std::string("loopback connect failed: ") + std::strerror(errno);
    }
    if (cs >= 0) ::close(cs);
  } else {
    detail = std::string("loopback listen failed: ") + std::strerror(errno);
  }
  if (ls >= 0) ::close(ls);
  return ok;
}

}  // namespace askr::loop
