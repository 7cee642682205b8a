// testssl.sh (Debian's package) against a running askr-proxy whose site has an ECDSA P-256 and
// an RSA 2048 certificate, both issued by a test CA that testssl is told to trust: protocols,
// cipher categories, forward secrecy, the server's cipher order, server defaults (certificates,
// tickets), HTTP headers and the vulnerability checks. No finding may be rated HIGH or
// CRITICAL; the test prints every finding rated LOW or above, and the run's time.
//
// testssl talks to 127.0.0.1 only: the IP is given (--ip), DNS lookups are off (--nodns none)
// and so is fetching CRLs or asking OCSP responders (no --phone-out: the default). Its slower
// checks (client simulation -c, each cipher per protocol -E, GREASE -g) are left out. Its own
// ctest entry (label tls), since it takes a minute or two.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"

namespace askr::testing {
namespace {

struct Finding {
  std::string id, severity, text;
};

// testssl's CSV: a header, then one quoted line per finding:
// "id","fqdn/ip","port","severity","finding","cve","cwe".
std::vector<Finding> read_csv(const std::string& path) {
  std::vector<Finding> out;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (line.size() < 2 || line.front() != '"') continue;
    std::vector<std::string> f;
    size_t at = 1;
    for (size_t end; (end = line.find("\",\"", at)) != std::string::npos; at = end + 3)
      f.push_back(line.substr(at, end - at));
    f.push_back(line.substr(at, line.rfind('"') - at));
    if (f.size() >= 5) out.push_back({f[0], f[3], f[4]});
  }
  return out;
}

bool installed() {
  std::string out;
  return run_command("command -v testssl", out) == 0;
}

class TestSsl : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!installed()) GTEST_SKIP() << "testssl.sh is not installed (scripts/deps.sh test)";
    dir_.write("www/index.html", "<h1>askr</h1>\n");
    // A CA, and a certificate of each type from it, for localhost and 127.0.0.1, a year long,
    // with a CRL and an OCSP address (never fetched here) as a public CA's would have.
    std::string d = dir_.path();
    std::string out;
    ASSERT_EQ(run_command("cd " + d +
                              " && openssl req -x509 -newkey ec -pkeyopt "
                              "ec_paramgen_curve:prime256v1 -nodes -days 30 -subj '/CN=Askr Test "
                              "CA' -keyout ca.key -out ca.pem -addext "
                              "basicConstraints=critical,CA:TRUE -addext "
                              "keyUsage=critical,keyCertSign,cRLSign 2>&1",
                          out),
              0)
        << out;
    for (const char* kind : {"ec", "rsa"}) {
      std::string key = std::string(kind) == "ec"
                            ? "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
                            : "-newkey rsa:2048";
      ASSERT_EQ(run_command(
                    "cd " + d + " && openssl req -x509 " + key +
                        " -nodes -days 365 -subj /CN=localhost -CA ca.pem -CAkey ca.key -keyout " +
                        kind + ".key -out " + kind +
                        ".pem -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -addext "
                        "basicConstraints=critical,CA:FALSE -addext extendedKeyUsage=serverAuth "
                        "-addext crlDistributionPoints=URI:http://127.0.0.1:9/ca.crl -addext "
                        "authorityInfoAccess=OCSP\\;URI:http://127.0.0.1:9/ocsp 2>&1",
                    out),
                0)
          << out;
    }
  }

  TempDir dir_;
};

TEST_F(TestSsl, NoFindingRatedHighOrCritical) {
  ProxyOptions o;
  o.backend = io_uring_available() ? "io_uring" : "epoll";
  o.root = dir_.path() + "/www";
  o.listen_extra = "tls = true\n";
  o.site_extra = "tls_certificate = [\"" + dir_.path() + "/ec.pem\", \"" + dir_.path() +
                 "/rsa.pem\"]\ntls_certificate_key = [\"" + dir_.path() + "/ec.key\", \"" +
                 dir_.path() + "/rsa.key\"]\n";
  Proxy proxy(o);
  std::string csv = dir_.path() + "/testssl.csv";
  std::string out;
  auto start = std::chrono::steady_clock::now();
  int rc = run_command(
      "cd " + dir_.path() +
          " && timeout 280 testssl --quiet --color 0 --warnings off --nodns none "
          "--ip 127.0.0.1 --add-ca " +
          dir_.path() + "/ca.pem --connect-timeout 5 --openssl-timeout 10 " + "--csvfile " + csv +
          " -p -s -f -P -S -h -U https://127.0.0.1:" + std::to_string(proxy.port()) + "/ 2>&1",
      out);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<Finding> findings = read_csv(csv);
  ASSERT_GT(findings.size(), 50u) << "testssl exited " << rc << "\n" << out;

  std::map<std::string, int> count;
  std::map<std::string, std::string> by_id;
  std::string report, bad;
  for (const Finding& f : findings) {
    ++count[f.severity];
    by_id[f.id] = f.severity + " " + f.text;
    if (f.severity == "OK" || f.severity == "INFO" || f.severity == "DEBUG") continue;
    std::string line = "  " + f.severity + "  " + f.id + ": " + f.text + "\n";
    report += line;
    if (f.severity == "HIGH" || f.severity == "CRITICAL" || f.severity == "FATAL") bad += line;
  }
  std::printf("testssl: %.0f s, exit status %d, %zu findings:", secs, rc, findings.size());
  for (const auto& [severity, n] : count) std::printf(" %s %d", severity.c_str(), n);
  std::printf("\nrated above OK/INFO:\n%s", report.c_str());
  EXPECT_EQ(bad, "") << out;
  // The checks ran, and the answers that matter were seen.
  for (const char* id : {"SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3", "cipher_order", "PFS",
                         "heartbleed", "ROBOT", "secure_renego", "BREACH", "HSTS"}) {
    EXPECT_TRUE(by_id.count(id)) << "no finding " << id << "\n" << out;
  }
  EXPECT_EQ(by_id["TLS1"].rfind("OK", 0) == 0 || by_id["TLS1"].rfind("INFO", 0) == 0, true)
      << by_id["TLS1"];
  EXPECT_EQ(by_id["TLS1_3"], "OK offered with final") << by_id["TLS1_3"];
  EXPECT_EQ(by_id["cipher_order"].rfind("OK", 0), 0u) << by_id["cipher_order"];
}

}  // namespace
}  // namespace askr::testing
