// What this machine's kernel offers the loop: a real io_uring_setup and the opcodes Askr uses.
#pragma once

#include <string>
#include <vector>

namespace askr::loop {

struct UringProbe {
  bool usable = false;  // io_uring_setup worked with our flags and every needed opcode is there
  std::string reason;   // why not, for the log line and doctor
  struct Opcode {
    const char* name;
    bool supported;
  };
  std::vector<Opcode> opcodes;
};

UringProbe probe_io_uring();

// True when the kernel can load the "tls" TCP ULP (kernel TLS); `detail` says what was seen.
bool probe_ktls(std::string& detail);

}  // namespace askr::loop
