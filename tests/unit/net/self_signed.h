// A temporary directory holding a self-signed ECDSA P-256 certificate and its key, made with the
// openssl CLI, for tests that need a TLS context; removed with the object.
#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace askr::net {

struct SelfSigned {
  SelfSigned(const std::string& prefix, const std::string& common_name) {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    if (!mkdtemp(tmpl.data())) return;
    dir = tmpl;
    pem = dir + "/c.pem";
    key = dir + "/c.key";
    std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
        "-subj /CN=" +
        common_name + " -keyout " + key + " -out " + pem + " >/dev/null 2>&1";
    ok = std::system(cmd.c_str()) == 0;
  }
  ~SelfSigned() {
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
  SelfSigned(const SelfSigned&) = delete;
  SelfSigned& operator=(const SelfSigned&) = delete;

  std::string dir, pem, key;
  bool ok = false;
};

}  // namespace askr::net
