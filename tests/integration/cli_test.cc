// The command line: --version, --help, -t with nginx-style diagnostics, doctor.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>

#include "harness.h"

namespace askr::testing {
namespace {

TEST(Cli, VersionAndHelp) {
  std::string out;
  EXPECT_EQ(run_proxy_command("--version", out), 0);
  EXPECT_EQ(out.rfind("askr-proxy ", 0), 0u) << out;
  EXPECT_EQ(run_proxy_command("--help", out), 0);
  EXPECT_NE(out.find("-t -c FILE"), std::string::npos);
  EXPECT_NE(run_proxy_command("--bogus", out), 0);
}

// -c at the end of the line, its file name forgotten, is said as such, as nginx says 'option
// "-c" requires file name'; not as an unknown argument, which -c is not.
TEST(Cli, ConfigOptionWithoutAFileNameSaysSo) {
  std::string out;
  EXPECT_EQ(run_proxy_command("-t -c", out), 2) << out;
  EXPECT_NE(out.find("askr-proxy: option \"-c\" requires a file name"), std::string::npos) << out;
  EXPECT_EQ(out.find("unknown argument"), std::string::npos) << out;
}

TEST(Cli, ConfigTestAcceptsTheShippedConfig) {
  std::string out;
  EXPECT_EQ(run_proxy_command("-t -c " ASKR_SOURCE_DIR "/conf/askr.toml", out), 0) << out;
  EXPECT_NE(out.find("test is successful"), std::string::npos) << out;
}

TEST(Cli, ConfigTestReportsEveryErrorWithPosition) {
  TempDir dir;
  dir.write("www/index.html", "x");
  std::string path = dir.write("bad.toml",
                               "[server]\n"
                               "threads = \"many\"\n"
                               "colour = 1\n"
                               "[[listen]]\n"
                               "address = \"127.0.0.1:8080\"\n"
                               "[[site]]\n"
                               "root = \"www\"\n");
  std::string out;
  EXPECT_NE(run_proxy_command("-t -c " + path, out), 0);
  EXPECT_NE(out.find(path + ":2:"), std::string::npos) << out;
  EXPECT_NE(out.find(path + ":3:"), std::string::npos) << out;
  EXPECT_NE(out.find("colour"), std::string::npos) << out;
}

TEST(Cli, ConfigTestReportsSyntaxErrors) {
  TempDir dir;
  std::string path = dir.write("broken.toml", "[server\nthreads = 1\n");
  std::string out;
  EXPECT_NE(run_proxy_command("-t -c " + path, out), 0);
  EXPECT_NE(out.find(path + ":1:"), std::string::npos) << out;
}

// A table header of 400,000 dotted parts crashed `-t` (toml++ recursed until the stack ran out):
// it is refused with its position, as other syntax errors are.
TEST(Cli, ConfigTestRefusesDeepNesting) {
  TempDir dir;
  std::string header = "[a";
  for (int i = 1; i < 400000; ++i) header += ".a";
  std::string path = dir.write("deep.toml", header + "]\n");
  std::string out;
  EXPECT_EQ(run_proxy_command("-t -c " + path, out), 1) << out;
  EXPECT_NE(out.find(path + ":1:129: tables and arrays nested more than 64 levels deep"),
            std::string::npos)
      << out;
  path = dir.write("deep_arrays.toml", "x = " + std::string(400000, '[') + "\n");
  EXPECT_EQ(run_proxy_command("-t -c " + path, out), 1) << out;
  EXPECT_NE(out.find(path + ":1:69: tables and arrays nested more than 64 levels deep"),
            std::string::npos)
      << out;
}

TEST(Cli, DoctorReportsTheMachine) {
  std::string out;
  EXPECT_EQ(run_proxy_command("doctor", out), 0);
  for (const char* line :
       {"io_uring:", "kTLS:", "SO_INCOMING_CPU:", "cores:", "fd limit:", "io_backend auto:"}) {
    EXPECT_NE(out.find(line), std::string::npos) << line << "\n" << out;
  }
  EXPECT_NE(out.find("RECV"), std::string::npos);
}

// A second askr-proxy started with `server_extra` in its [server] table, on the address of a
// first one that runs (on epoll, serving `dir`'s www/): its exit status, and its stderr in `out`.
int start_on_an_address_in_use(TempDir& dir, const std::string& server_extra, std::string& out,
                               std::string* addr_out = nullptr) {
  ProxyOptions o;
  o.backend = "epoll";
  o.root = dir.path() + "/www";
  dir.write("www/index.html", "first\n");
  Proxy first(o);
  std::string addr = "127.0.0.1:" + std::to_string(first.port());
  if (addr_out) *addr_out = addr;
  std::string path = dir.write("second.toml", "[server]\nio_backend = \"epoll\"\n" + server_extra +
                                                  "[[listen]]\naddress = \"" + addr +
                                                  "\"\n[[site]]\nroot = \"www\"\n");
  // Should it start, `timeout` stops it (SIGTERM: a clean exit) and answers 124.
  int rc = run_command("timeout 5 " ASKR_PROXY_BIN " -c " + path + " 2>&1", out);
  EXPECT_EQ(first.stop(), 0);
  return rc;
}

// A second askr-proxy (or any server of the same user with SO_REUSEPORT) on an address already
// in use must not join the first one's listeners and take half of its connections: it refuses
// to start, as nginx does ("Address already in use").
TEST(Cli, ListenAddressInUseIsAnError) {
  TempDir dir;
  std::string out, addr;
  EXPECT_EQ(start_on_an_address_in_use(dir, "", out, &addr), 1) << out;
  EXPECT_NE(out.find("listen " + addr + ": "), std::string::npos) << out;
  EXPECT_NE(out.find("Address already in use"), std::string::npos) << out;
}

// Why a start fails is said on stderr too when error_log names a file, as nginx says its
// [emerg] lines on the terminal while it starts: under systemd, `systemctl status` and the
// journal show it, not only a file no one is looking at.
TEST(Cli, StartFailureIsOnStderrWhenTheErrorLogIsAFile) {
  TempDir dir;
  std::string log = dir.path() + "/error.log", out;
  EXPECT_EQ(start_on_an_address_in_use(dir, "error_log = \"" + log + "\"\n", out), 1) << out;
  EXPECT_NE(out.find("Address already in use"), std::string::npos) << out;
  std::string file;
  run_command("cat " + log, file);
  EXPECT_NE(file.find("Address already in use"), std::string::npos) << file;
}

// A log file that cannot be opened is an error at start and under -t, with its path and why, as
// nginx says it, at the line and column that name it; never a quiet fallback to stderr.
TEST(Cli, LogFileThatCannotBeOpenedIsAnError) {
  TempDir dir;
  dir.write("www/index.html", "x");
  for (auto [table, column] : {std::pair{"[server]\nerror_log", ":2:13: error_log \""},
                               std::pair{"[access_log]\npath", ":2:8: [access_log] path \""}}) {
    std::string log = dir.path() + "/missing/dir/x.log";
    std::string path = dir.write("c.toml", std::string(table) + " = \"" + log +
                                               "\"\n[[listen]]\naddress = \"127.0.0.1:0\"\n"
                                               "[[site]]\nroot = \"www\"\n");
    std::string want = path + column + log + "\": No such file or directory";
    std::string out;
    EXPECT_EQ(run_proxy_command("-t -c " + path, out), 1) << table << "\n" << out;
    EXPECT_NE(out.find(want), std::string::npos) << table << "\n" << out;
    EXPECT_EQ(out.find("test is successful"), std::string::npos) << out;
    // Should it start, `timeout` stops it (SIGTERM: a clean exit) and answers 124.
    EXPECT_EQ(run_command("timeout 5 " ASKR_PROXY_BIN " -c " + path + " 2>&1", out), 1)
        << table << "\n"
        << out;
    EXPECT_NE(out.find(want), std::string::npos) << table << "\n" << out;
  }
}

// A SIGHUP applies certificates and PHP, not the rest of the file: an edited config is said to
// need a restart, and a broken one is reported with its errors, where a silent reload would let
// the operator think the change was live. An unchanged file gets neither line.
TEST(Cli, SighupSaysWhatItDoesNotApplyFromAnEditedConfig) {
  TempDir www;
  www.write("a.txt", "a");
  ProxyOptions opt;
  opt.root = www.path();
  Proxy proxy(opt);
  auto logged = [&](const std::string& what, size_t nth) {
    for (int i = 0; i < 200; ++i) {
      std::string log = proxy.error_log();
      size_t at = 0, seen = 0;
      while ((at = log.find(what, at)) != std::string::npos) ++seen, ++at;
      if (seen >= nth) return true;
      usleep(20000);
    }
    return false;
  };
  kill(proxy.pid(), SIGHUP);
  ASSERT_TRUE(logged("SIGHUP: restarting", 1)) << proxy.error_log();  // after the check
  EXPECT_EQ(proxy.error_log().find("changed since askr-proxy started"), std::string::npos)
      << proxy.error_log();

  std::string text;
  ASSERT_EQ(run_command("cat " + proxy.config_path(), text), 0);
  TempDir scratch;
  std::string edited = scratch.write("edited.toml", text + "\n[limits]\nmax_headers = 50\n");
  ASSERT_EQ(run_command("cp " + edited + " " + proxy.config_path(), text), 0);
  kill(proxy.pid(), SIGHUP);
  EXPECT_TRUE(logged(proxy.config_path() + " changed since askr-proxy started", 1))
      << proxy.error_log();

  std::string broken = scratch.write("broken.toml", "[[listen]]\naddress = 42\n");
  ASSERT_EQ(run_command("cp " + broken + " " + proxy.config_path(), text), 0);
  kill(proxy.pid(), SIGHUP);
  EXPECT_TRUE(logged("SIGHUP: " + proxy.config_path() + ":2:", 1)) << proxy.error_log();
  EXPECT_TRUE(logged("error(s), as above; the running config is unchanged", 1))
      << proxy.error_log();
  // And it still serves as it did.
  int fd = connect_to(proxy.port());
  send_all(fd, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
  HttpResponse r = read_response(fd);
  ::close(fd);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "a");
}

// A root, and a route's alias, reached through a symlink are resolved again on SIGHUP: after a
// deploy moves the links to a new release, the same URLs serve it, and the log says what moved.
TEST(Cli, SighupServesWhatARootSymlinkNowNames) {
  TempDir dir;
  dir.write("rel1/a.txt", "one");
  dir.write("rel2/a.txt", "two");
  dir.write("up1/u.txt", "up one");
  dir.write("up2/u.txt", "up two");
  std::string out;
  ASSERT_EQ(run_command("cd " + dir.path() + " && ln -s rel1 current && ln -s up1 uploads", out),
            0);
  ProxyOptions opt;
  opt.root = dir.path() + "/current";
  opt.site_extra = "[[site.route]]\nprefix = \"/up/\"\nalias = \"" + dir.path() + "/uploads\"\n";
  Proxy proxy(opt);
  auto fetch = [&](const std::string& path) {
    int fd = connect_to(proxy.port());
    send_all(fd, "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
    HttpResponse r = read_response(fd);
    ::close(fd);
    return r.body;
  };
  EXPECT_EQ(fetch("/a.txt"), "one");
  EXPECT_EQ(fetch("/up/u.txt"), "up one");
  // As deploy tools move a link: a new one renamed over it.
  ASSERT_EQ(run_command("cd " + dir.path() +
                            " && ln -s rel2 c.new && mv -T c.new current && ln -s up2 u.new && "
                            "mv -T u.new uploads",
                        out),
            0);
  kill(proxy.pid(), SIGHUP);
  const std::string real = std::filesystem::canonical(dir.path()).string();
  std::string want =
      "SIGHUP: site 1's route /up/ (root or alias) is now " + real + "/up2 (was " + real + "/up1)";
  bool seen = false;
  for (int i = 0; i < 200 && !seen; ++i) {
    seen = proxy.error_log().find(want) != std::string::npos;
    if (!seen) usleep(20000);
  }
  EXPECT_TRUE(seen) << proxy.error_log();
  EXPECT_NE(proxy.error_log().find("SIGHUP: site 1's root is now " + real + "/rel2 (was " + real +
                                   "/rel1)"),
            std::string::npos)
      << proxy.error_log();
  EXPECT_EQ(fetch("/a.txt"), "two");
  EXPECT_EQ(fetch("/up/u.txt"), "up two");
}

TEST(Cli, MissingRootIsAnError) {
  TempDir dir;
  std::string path =
      dir.write("c.toml", "[[listen]]\naddress = \"127.0.0.1:0\"\n[[site]]\nroot = \"nope\"\n");
  std::string out;
  EXPECT_NE(run_proxy_command("-t -c " + path, out), 0);
  EXPECT_NE(out.find(path + ":4:"), std::string::npos) << out;
}

}  // namespace
}  // namespace askr::testing
