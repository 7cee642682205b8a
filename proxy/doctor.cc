#include "doctor.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "loop/probe.h"
#include "master/supervisor.h"
#include "net/ktls.h"

namespace askr {
namespace {

bool probe_incoming_cpu(std::string& detail) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int cpu = 0;
  bool ok = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &cpu, sizeof cpu) == 0;
  detail =
      ok ? "setsockopt(SO_INCOMING_CPU) works" : std::string("failed: ") + std::strerror(errno);
  if (fd >= 0) close(fd);
  return ok;
}

// libphp as askr-worker embeds it: version, extensions, OPcache.
void report_php() {
  std::string bin = master::find_worker_binary();
  if (bin.empty()) {
    std::printf("askr-worker:      not found (Askr's own PHP pools cannot start)\n");
    return;
  }
  std::printf("askr-worker:      %s\n", bin.c_str());
  std::string cmd = "'" + bin + "' --version 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return;
  char line[512];
  while (fgets(line, sizeof line, p)) std::printf("  %s", line);
  if (pclose(p) != 0) std::printf("  (askr-worker --version failed)\n");
}

// Which TLS versions, ciphers and directions the kernel takes (tried with dummy keys on
// loopback sockets), or why none.
void report_ktls() {
  using namespace net::ktls;
  Probe p = probe_now();
  if (!p.ulp || !p.any()) {
    std::printf("kTLS:             no - %s\n", p.summary().c_str());
    std::printf("                  TLS stays in user space (OpenSSL); nothing to configure\n");
    return;
  }
  std::printf("kTLS:             yes - the tls ULP attaches\n");
  for (int v : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    for (Cipher c : {Cipher::kAes128Gcm, Cipher::kAes256Gcm, Cipher::kChacha20Poly1305}) {
      uint8_t d = p.dirs(v, c);
      std::printf("  %s %-17s %s\n", v == TLS1_3_VERSION ? "TLS1.3" : "TLS1.2", cipher_name(c),
                  d == kBoth ? "send and receive"
                  : d == kTx ? "send only"
                  : d == kRx ? "receive only"
                             : "no (the kernel lacks the cipher: load its crypto modules)");
    }
  }
}

}  // namespace

int run_doctor() {
  loop::UringProbe uring = loop::probe_io_uring();
  std::printf("io_uring:         %s%s%s\n", uring.usable ? "yes" : "no",
              uring.reason.empty() ? "" : " - ", uring.reason.c_str());
  for (const auto& op : uring.opcodes) {
    std::printf("  %-16s %s\n", op.name, op.supported ? "yes" : "no");
  }
  report_ktls();
  std::string detail;
  bool incoming = probe_incoming_cpu(detail);
  std::printf("SO_INCOMING_CPU:  %s - %s\n", incoming ? "yes" : "no", detail.c_str());
  cpu_set_t set;
  CPU_ZERO(&set);
  sched_getaffinity(0, sizeof set, &set);
  std::printf("cores:            %ld online, %d usable (affinity mask)\n",
              sysconf(_SC_NPROCESSORS_ONLN), CPU_COUNT(&set));
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  std::printf("fd limit:         soft %llu, hard %llu (askr-proxy raises soft to hard)\n",
              (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
  std::printf("io_backend auto:  %s\n", uring.usable ? "io_uring" : "epoll");
  report_php();
  return 0;
}

}  // namespace askr
