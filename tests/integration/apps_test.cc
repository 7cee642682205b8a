// Real PHP apps built from Debian's packages, each served side by side by nginx + php-fpm (the
// reference) and by askr-proxy: to the same php-fpm pool, to an Askr classic pool and, for the
// frameworks, to an Askr worker-mode pool. The same requests must get the same answers.
//
// - A Symfony 5.4 app (php-symfony-framework-bundle, tests/apps/symfony): a micro kernel,
//   sessions through framework.session, Symfony's error page, a form post; classic
//   (public/index.php) and worker mode (worker.php, shaped like Symfony Runtime's FrankenPHP
//   runner).
// - A Laravel 8 app (php-laravel-framework, tests/apps/laravel): the same routes, a validation
//   error, Laravel's error page; classic and worker mode (worker.php, Octane-style).
// - WordPress 6.1 (Debian's wordpress package, /usr/share/wordpress) in classic mode, on a
//   private MariaDB, installed by the test.
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "apps_harness.h"
#include "php_harness.h"

namespace askr::testing {
namespace {
namespace fs = std::filesystem;

// php.ini settings of every pool: those PhpFpm gives php-fpm, as [pool.ini] for Askr's pools.
constexpr const char* kPoolIni =
    "[pool.ini]\n"
    "display_errors = \"0\"\n"
    "log_errors = \"1\"\n"
    "output_buffering = \"0\"\n"
    "upload_max_filesize = \"100M\"\n"
    "post_max_size = \"200M\"\n"
    "memory_limit = \"256M\"\n";

struct Server {
  std::string name;
  int port = 0;
};

// The servers of one app: nginx + php-fpm first (the reference), then askr-proxy's.
struct Stack {
  TempDir dir;
  std::unique_ptr<PhpFpm> fpm;
  std::unique_ptr<Nginx> nginx;
  std::unique_ptr<PhpProxy> askr_fpm;
  std::unique_ptr<PhpProxy> askr_classic;
  std::unique_ptr<PhpProxy> askr_worker;

  std::vector<Server> servers() const {
    std::vector<Server> out = {{"nginx + php-fpm", nginx->port()},
                               {"askr-proxy + php-fpm", askr_fpm->port()},
                               {"askr-proxy + askr classic", askr_classic->port()}};
    if (askr_worker) out.push_back({"askr-proxy + askr worker mode", askr_worker->port()});
    return out;
  }
  std::string logs() const {
    std::string out = "\n--- php-fpm:\n" + fpm->log() + "\n--- nginx:\n" + nginx->error_log() +
                      "\n--- askr (php-fpm):\n" + askr_fpm->error_log() +
                      "\n--- askr (classic):\n" + askr_classic->error_log();
    if (askr_worker) out += "\n--- askr (worker):\n" + askr_worker->error_log();
    return out;
  }
};

std::string request(const std::string& method, const std::string& path, const std::string& host,
                    const std::string& headers = "", const std::string& body = "") {
  std::string r = method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\n" + headers;
  if (!body.empty() || method == "POST") {
    r += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n";
  }
  return r + "\r\n" + body;
}

std::string first_line(const std::string& raw) {
  return raw.substr(0, raw.find("\r\n"));
}

// Sends `raw` to every server; every answer must match the first's (nginx + php-fpm), which is
// returned.
PhpResponse expect_same(const Stack& s, const std::string& raw) {
  std::vector<Server> servers = s.servers();
  PhpResponse ref = php_fetch(servers[0].port, raw, 30000);
  EXPECT_TRUE(ref.ok) << "nginx + php-fpm gave no whole answer to " << first_line(raw) << s.logs();
  for (size_t i = 1; i < servers.size(); ++i) {
    PhpResponse r = php_fetch(servers[i].port, raw, 30000);
    EXPECT_TRUE(r.ok) << servers[i].name << " gave no whole answer to " << first_line(raw);
    if (ref.header("content-type").find(';') != std::string::npos) {
      EXPECT_EQ(r.header("content-type"), ref.header("content-type"))
          << servers[i].name << ", " << first_line(raw);
    }
    std::string diff = first_difference(comparable(ref), comparable(r));
    EXPECT_EQ(diff, "") << servers[i].name << " and nginx + php-fpm differ on " << first_line(raw)
                        << "\n(nginx + php-fpm first)" << (diff.empty() ? "" : s.logs());
  }
  return ref;
}

// `n` requests to /counter carrying the session cookie: the counts must run 1..n.
void expect_session_counter(const Server& server, const std::string& host, int n,
                            const std::function<std::string()>& logs) {
  CookieJar jar;
  for (int i = 1; i <= n; ++i) {
    PhpResponse r = php_fetch(server.port, request("GET", "/counter", host, jar.header()), 30000);
    ASSERT_EQ(r.status, 200) << server.name << ", request " << i << ": " << r.body << logs();
    ASSERT_EQ(r.body, "{\"count\":" + std::to_string(i) + "}")
        << server.name << ", request " << i << " (cookie " << jar.header() << ")" << logs();
    jar.update(r);
  }
}

// Two clients taking turns, each with its own session cookie, then one without: each counts
// from 1 on its own, none sees another's session (on a worker-mode pool, all land on the one
// worker).
void expect_separate_sessions(const Server& server, int n,
                              const std::function<std::string()>& logs) {
  CookieJar jars[2];
  for (int i = 1; i <= n; ++i) {
    for (int c = 0; c < 2; ++c) {
      PhpResponse r =
          php_fetch(server.port, request("GET", "/counter", "localhost", jars[c].header()), 30000);
      ASSERT_EQ(r.body, "{\"count\":" + std::to_string(i) + "}")
          << server.name << ", client " << c << ", request " << i << logs();
      jars[c].update(r);
    }
  }
  PhpResponse r = php_fetch(server.port, request("GET", "/counter", "localhost"), 30000);
  EXPECT_EQ(r.body, "{\"count\":1}") << server.name << ", a new client" << logs();
}

// Ten form posts of 6 MiB each, one after the other, to each server: each must be answered
// (303), none lost on the way to PHP.
void expect_large_posts_answered(const Stack& stack) {
  std::string body = "name=Ada&email=ada%40example.org&blob=" + std::string(6 << 20, 'a');
  for (const Server& s : stack.servers()) {
    for (int i = 0; i < 10; ++i) {
      PhpResponse r = php_fetch(s.port, request("POST", "/form", "localhost", "", body), 30000);
      ASSERT_EQ(r.status, 303) << s.name << ", post " << i << stack.logs();
    }
  }
}

// A POST with Basic credentials and a text/plain body, a few times over: the same answers as
// nginx + php-fpm's, from every server.
void expect_basic_auth_posts_match(const Stack& stack, const std::string& accept) {
  std::string raw = "POST /form HTTP/1.1\r\nHost: localhost\r\n" + accept +
                    "Authorization: Basic YWRhOnNlY3JldA==\r\nContent-Type: text/plain\r\n"
                    "Content-Length: 5\r\n\r\nhello";
  for (int i = 0; i < 4; ++i) EXPECT_EQ(expect_same(stack, raw).status, 422);
}

// askr-proxy serving `root` as the site named `host` (SERVER_NAME, as nginx's server_name),
// PHP in `pool`: a php-fpm address, or the keys of an Askr pool.
std::unique_ptr<PhpProxy> start_askr(const std::string& host, const std::string& root,
                                     const std::string& pool, const std::string& front_controller,
                                     const std::string& site_extra = "",
                                     const std::string& routes = "") {
  PhpProxyOptions o;
  o.backend = io_uring_available() ? "io_uring" : "epoll";
  o.root = root;
  o.index = R"(["index.php"])";
  o.front_controller = front_controller;
  o.site_extra = "server_names = [\"" + host + "\"]\n" + site_extra;
  o.routes = routes;
  if (pool.rfind("unix:", 0) == 0) {
    o.fastcgi = pool;
  } else {
    o.pool_extra = pool + kPoolIni;
  }
  return std::make_unique<PhpProxy>(o);
}

// A framework app (tests/apps/NAME, front controller public/index.php, worker.php) on all five
// servers.
std::unique_ptr<Stack> start_framework_app(const std::string& name) {
  auto s = std::make_unique<Stack>();
  std::string app = s->dir.path() + "/" + name;
  copy_app(name, app);
  s->fpm = std::make_unique<PhpFpm>(4);
  s->nginx =
      std::make_unique<Nginx>("    server_name localhost;\n" +
                              nginx_front_controller(app + "/public", s->fpm->socket_path()));
  s->askr_fpm = start_askr("localhost", app + "/public", s->fpm->address(), "index.php");
  s->askr_classic =
      start_askr("localhost", app + "/public", "workers = 2\nmode = \"classic\"\n", "index.php");
  // One worker: every request lands on the same booted app.
  s->askr_worker = start_askr(
      "localhost", app + "/public",
      "workers = 1\nmode = \"worker\"\nworker_script = \"" + app + "/worker.php\"\n", "index.php");
  return s;
}

std::string missing_packages(std::initializer_list<const char*> paths) {
  std::string out;
  for (const char* p : paths) {
    if (access(p, R_OK) != 0) out += std::string(" ") + p;
  }
  return out;
}

std::string framework_skip_reason(const char* autoload) {
  if (!ASKR_WITH_WORKER) return "askr-worker is not built in this configuration";
  if (!php_fpm_available()) return "php-fpm is not installed";
  if (!nginx_available()) return "nginx is not installed";
  std::string missing = missing_packages({autoload});
  return missing.empty() ? "" : "not installed (scripts/deps.sh test):" + missing;
}

// ---- Symfony ------------------------------------------------------------------------------------

constexpr const char* kSymfonyAutoload =
    "/usr/share/php/Symfony/Bundle/FrameworkBundle/autoload.php";

// The suites of one framework app share its servers; suites run one after the other, each
// starting them in SetUpTestSuite and stopping them in TearDownTestSuite.
class FrameworkApp : public ::testing::Test {
 protected:
  static void start(const char* autoload, const std::string& name) {
    skip_ = framework_skip_reason(autoload);
    error_.clear();
    if (!skip_.empty()) return;
    try {
      stack_ = start_framework_app(name);
    } catch (const std::exception& e) {
      error_ = e.what();
    }
  }
  static void TearDownTestSuite() { stack_.reset(); }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_TRUE(stack_) << "the servers did not start: " << error_;
  }
  static std::string get(const std::string& path, const std::string& headers = "") {
    return request("GET", path, "localhost", headers);
  }
  static std::string post(const std::string& path, const std::string& body,
                          const std::string& headers = "") {
    return request("POST", path, "localhost", headers, body);
  }

  static inline std::string skip_;
  static inline std::string error_;
  static inline std::unique_ptr<Stack> stack_;
};

class SymfonyApp : public FrameworkApp {
 protected:
  static void SetUpTestSuite() { start(kSymfonyAutoload, "symfony"); }
};

TEST_F(SymfonyApp, RoutePagesMatch) {
  PhpResponse r = expect_same(*stack_, get("/hello/World"));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("<h1>Hello, World!</h1>"), std::string::npos) << r.body;
  EXPECT_EQ(r.header("cache-control"), "no-cache, private");
  r = expect_same(*stack_, get("/hello/%C3%A9t%C3%A9?x=1"));
  EXPECT_NE(r.body.find("Hello, \xC3\xA9t\xC3\xA9!"), std::string::npos) << r.body;
  EXPECT_EQ(expect_same(*stack_, get("/no/such/route")).status, 404);
  EXPECT_EQ(expect_same(*stack_, get("/form")).status, 405);  // POST only
}

TEST_F(SymfonyApp, ExceptionGivesSymfonysErrorPage) {
  PhpResponse r = expect_same(*stack_, get("/boom"));
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("Oops! An Error Occurred"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("the app failed on purpose"), std::string::npos) << "no details in prod";
}

TEST_F(SymfonyApp, FormPostMatches) {
  PhpResponse r = expect_same(*stack_, post("/form", "name=Ada+Lovelace&email=ada%40example.org"));
  EXPECT_EQ(r.status, 303);
  EXPECT_EQ(r.header("location"), "/hello/Ada%20Lovelace");
  r = expect_same(*stack_, post("/form", "name=&email=nope"));
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.body, R"({"errors":{"name":"required","email":"not an e-mail address"}})");
}

TEST_F(SymfonyApp, NewSessionSetsTheSameCookie) {
  PhpResponse r = expect_same(*stack_, get("/counter"));
  EXPECT_EQ(r.body, R"({"count":1})");
  EXPECT_EQ(cookie_names(r), std::vector<std::string>{"PHPSESSID"});
  EXPECT_EQ(r.header("cache-control"), "max-age=0, must-revalidate, private");
}

TEST_F(SymfonyApp, SessionCounterOnNginxAndAskrClassicPools) {
  for (const Server& s : stack_->servers()) {
    if (s.port == stack_->askr_worker->port()) continue;  // WorkerModeSessionCounterOnOneWorker
    expect_session_counter(s, "localhost", 12, [] { return stack_->logs(); });
    expect_separate_sessions(s, 4, [] { return stack_->logs(); });
  }
}

TEST_F(SymfonyApp, LargeFormPostsOnEveryServer) {
  expect_large_posts_answered(*stack_);
}

// Symfony's session in worker mode: the save handler it registers with
// session_set_save_handler() and the session.* settings it makes on first use serve every
// request on the one worker.
TEST_F(SymfonyApp, WorkerModeSessionCounterOnOneWorker) {
  Server worker = stack_->servers().back();
  ASSERT_EQ(worker.port, stack_->askr_worker->port());
  expect_session_counter(worker, "localhost", 12, [] { return stack_->logs(); });
  expect_separate_sessions(worker, 4, [] { return stack_->logs(); });
  // And the app still answers like nginx + php-fpm afterwards.
  expect_same(*stack_, get("/hello/again"));
}

// A POST with `Authorization: Basic` and a text/plain body, repeated on the worker (it once
// corrupted PHP's heap there).
TEST_F(SymfonyApp, BasicAuthTextPostInWorkerMode) {
  expect_basic_auth_posts_match(*stack_, "");
}

// ---- Laravel ------------------------------------------------------------------------------------

constexpr const char* kLaravelAutoload = "/usr/share/php/Illuminate/autoload.php";

class LaravelApp : public FrameworkApp {
 protected:
  static void SetUpTestSuite() { start(kLaravelAutoload, "laravel"); }
};

TEST_F(LaravelApp, RoutePagesMatch) {
  PhpResponse r = expect_same(*stack_, get("/hello/World"));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("<h1>Hello, World!</h1>"), std::string::npos) << r.body;
  EXPECT_EQ(cookie_names(r), std::vector<std::string>{"askr_session"});
  r = expect_same(*stack_, get("/hello/%C3%A9t%C3%A9?x=1"));
  EXPECT_NE(r.body.find("Hello, \xC3\xA9t\xC3\xA9!"), std::string::npos) << r.body;
  EXPECT_EQ(expect_same(*stack_, get("/no/such/route")).status, 404);
  EXPECT_EQ(expect_same(*stack_, get("/form")).status, 405);
}

TEST_F(LaravelApp, ExceptionGivesLaravelsErrorPage) {
  PhpResponse r = expect_same(*stack_, get("/boom"));
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("<title>Server Error</title>"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("the app failed on purpose"), std::string::npos) << "no details in prod";
}

TEST_F(LaravelApp, FormPostAndValidationErrorsMatch) {
  PhpResponse r = expect_same(*stack_, post("/form", "name=Ada+Lovelace&email=ada%40example.org"));
  EXPECT_EQ(r.status, 303);
  EXPECT_EQ(r.header("location"), "http://localhost/hello/Ada%20Lovelace");
  // A validation error: back where the form was, the errors flashed into the session...
  r = expect_same(*stack_,
                  post("/form", "name=&email=nope", "Referer: http://localhost/signup\r\n"));
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(r.header("location"), "http://localhost/signup");
  // ...or 422 with them when JSON is asked for.
  r = expect_same(*stack_, post("/form", "name=&email=nope", "Accept: application/json\r\n"));
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find(R"("name":["The name field is required."])"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("email":["The email must be a valid email address."])"),
            std::string::npos)
      << r.body;
}

// Laravel keeps its sessions itself (no session extension): the counter must run on every
// server, the worker-mode pool included.
TEST_F(LaravelApp, SessionCounterOnEveryServer) {
  for (const Server& s : stack_->servers()) {
    expect_session_counter(s, "localhost", 12, [] { return stack_->logs(); });
    expect_separate_sessions(s, 4, [] { return stack_->logs(); });
  }
}

TEST_F(LaravelApp, LargeFormPostsOnEveryServer) {
  expect_large_posts_answered(*stack_);
}

// A form with more fields than max_input_vars (1000): PHP keeps the first 1000 and warns while
// it starts the request, before any of the app's code, so the app's error handler (Laravel's
// turns warnings into exceptions) never sees it under php-fpm: the post is served (303), the
// warning logged as "PHP Request Startup: ...". On the worker, where the handler set at boot is
// in place between requests, the same.
TEST_F(LaravelApp, FormWithMoreFieldsThanMaxInputVarsIsServed) {
  std::string body = "name=Ada&email=ada%40example.org";
  for (int i = 0; i < 1000; ++i) body += "&f" + std::to_string(i) + "=x";
  for (int i = 0; i < 2; ++i) {
    PhpResponse r = expect_same(*stack_, post("/form", body, "Accept: application/json\r\n"));
    EXPECT_EQ(r.status, 303);
    EXPECT_EQ(r.header("location"), "http://localhost/hello/Ada");
  }
  EXPECT_NE(stack_->fpm->log().find("PHP Request Startup: Input variables exceeded 1000"),
            std::string::npos);
  EXPECT_NE(
      stack_->askr_worker->error_log().find("PHP Request Startup: Input variables exceeded 1000"),
      std::string::npos)
      << stack_->askr_worker->error_log();
}

// As SymfonyApp.BasicAuthTextPostInWorkerMode.

TEST_F(LaravelApp, BasicAuthTextPostInWorkerMode) {
  expect_basic_auth_posts_match(*stack_, "Accept: application/json\r\n");
}

// Waits on FrankenPHP compatibility in worker mode (worker/): a worker script written for
// FrankenPHP checks $_SERVER['FRANKENPHP_WORKER'] and exits at once without it, so the pool
// never gets a worker and requests wait for a 503.
TEST_F(LaravelApp, FrankenPhpWorkerScriptRunsUnchanged) {
  std::string app = stack_->dir.path() + "/laravel";
  auto askr = start_askr("localhost", app + "/public",
                         "workers = 1\nmode = \"worker\"\nworker_script = \"" + app +
                             "/frankenphp-worker.php\"\nqueue_timeout = \"3s\"\n",
                         "index.php");
  Server worker{"askr-proxy + FrankenPHP worker script", askr->port()};
  for (const char* path : {"/hello/World", "/no/such/route"}) {
    PhpResponse ref = php_fetch(stack_->nginx->port(), get(path), 30000);
    PhpResponse r = php_fetch(worker.port, get(path), 30000);
    EXPECT_EQ(first_difference(comparable(ref), comparable(r)), "") << path << "\n"
                                                                    << askr->error_log();
  }
  expect_session_counter(worker, "localhost", 12, [&] { return askr->error_log(); });
}

// ---- WordPress ----------------------------------------------------------------------------------

// Gives this process (and what it starts from now on) its own mount namespace with `dir`
// mounted over /etc/wordpress, so that the site's config file is written nowhere else.
bool private_etc_wordpress(const std::string& dir) {
  if (unshare(CLONE_NEWNS) != 0) return false;
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
  return mount(dir.c_str(), "/etc/wordpress", nullptr, MS_BIND, nullptr) == 0;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size()) {
    s.replace(at, from.size(), to);
  }
  return s;
}

// WordPress on a private MariaDB, installed once per test binary, served by nginx + php-fpm,
// askr-proxy + php-fpm and an Askr classic pool.
struct WordPressSite {
  std::string host;
  TempDir dir;
  std::unique_ptr<MariaDb> db;
  std::string config_file;  // in /etc/wordpress (outside a private mount namespace): removed
  bool config_in_etc = false;
  Stack stack;

  WordPressSite() {
    host = "askr-wp-" + std::to_string(getpid()) + ".test";
    db = std::make_unique<MariaDb>();
    db->sql(
        "CREATE DATABASE wordpress; CREATE USER 'wordpress'@'localhost' IDENTIFIED BY "
        "'askr-test'; GRANT ALL ON wordpress.* TO 'wordpress'@'localhost';");
    std::string etc = dir.path() + "/etc-wordpress";
    fs::create_directories(etc);
    config_in_etc = !private_etc_wordpress(etc);
    config_file =
        (config_in_etc ? std::string("/etc/wordpress") : etc) + "/config-" + host + ".php";
    std::string config =
        read_file(std::string(ASKR_SOURCE_DIR) + "/tests/apps/wordpress/config.php.in");
    config = replace_all(replace_all(config, "@HOST@", host), "@DB_SOCKET@", db->socket_path());
    std::FILE* f = std::fopen(config_file.c_str(), "w");
    if (!f) throw std::runtime_error("cannot write " + config_file);
    std::fputs(config.c_str(), f);
    std::fclose(f);
    std::string out;
    fs::create_directories(dir.path() + "/uploads");
    if (run_command("php " + std::string(ASKR_SOURCE_DIR) + "/tests/apps/wordpress/install.php " +
                        host + " " + dir.path() + "/uploads 2>&1",
                    out) != 0 ||
        out.find("installed") == std::string::npos) {
      throw std::runtime_error("WordPress install failed:\n" + out + db->log());
    }
    stack.fpm = std::make_unique<PhpFpm>(4);
    stack.nginx = std::make_unique<Nginx>(nginx_server_body());
    stack.askr_fpm = start_askr(host, kRoot, stack.fpm->address(), "index.php");
    stack.askr_classic = start_askr(host, kRoot, "workers = 2\nmode = \"classic\"\n", "index.php");
  }
  ~WordPressSite() {
    if (config_in_etc) ::unlink(config_file.c_str());
  }

  // As Debian's README.Debian has it for nginx: the site from /usr/share/wordpress,
  // /wp-content/ from /var/lib/wordpress/wp-content, symlinks followed (nginx's default).
  std::string nginx_server_body() const {
    return "    server_name " + host + ";\n    root " + kRoot +
           ";\n    index index.php;\n"
           "    location / { try_files $uri $uri/ /index.php?$args; }\n"
           "    location /wp-content/ { alias /var/lib/wordpress/wp-content/; }\n"
           "    location ~ \\.php$ {\n"
           "      include /etc/nginx/fastcgi_params;\n"
           "      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n"
           "      fastcgi_pass unix:" +
           stack.fpm->socket_path() + ";\n    }\n";
  }

  static constexpr const char* kRoot = "/usr/share/wordpress";
};

class WordPressApp : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!php_fpm_available()) {
      skip_ = "php-fpm is not installed";
    } else if (!nginx_available()) {
      skip_ = "nginx is not installed";
    } else if (!mariadb_available()) {
      skip_ = "MariaDB is not installed (scripts/deps.sh test)";
    } else {
      std::string missing = missing_packages(
          {"/usr/share/wordpress/wp-config.php", "/etc/wordpress", "/usr/bin/php"});
      if (!missing.empty()) {
        skip_ = "not installed (scripts/deps.sh test):" + missing;
      } else if (!site_ && error_.empty()) {
        try {
          site_ = std::make_unique<WordPressSite>();
        } catch (const std::exception& e) {
          error_ = e.what();
        }
      }
    }
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_TRUE(site_) << "WordPress did not start: " << error_;
  }
  static std::string get(const std::string& path, const std::string& headers = "") {
    return request("GET", path, site_->host, headers);
  }
  static const Stack& stack() { return site_->stack; }

  static inline std::string skip_;
  static inline std::string error_;
  // Installed once per process, for every WordPress suite; gone when the process ends.
  static inline std::unique_ptr<WordPressSite> site_;
};

TEST_F(WordPressApp, HomePageMatches) {
  PhpResponse r = expect_same(stack(), get("/"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/html; charset=UTF-8");
  EXPECT_NE(r.body.find("Askr on WordPress"), std::string::npos) << r.body.substr(0, 2000);
  EXPECT_NE(r.body.find("Askr and nginx"), std::string::npos);
}

TEST_F(WordPressApp, PostPagesMatch) {
  PhpResponse r = expect_same(stack(), get("/askr-and-nginx/"));  // a pretty permalink
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("The same page from both servers."), std::string::npos);
  r = expect_same(stack(), get("/askr-and-nginx"));  // WordPress's canonical redirect
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.header("location"), "http://" + site_->host + "/askr-and-nginx/");
  r = expect_same(stack(), get("/?p=1"));  // the installer's "Hello world!"
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(expect_same(stack(), get("/hello-world/")).status, 200);
  EXPECT_EQ(expect_same(stack(), get("/no-such-page/")).status, 404);
}

TEST_F(WordPressApp, LoginPageAndAdminRedirectMatch) {
  PhpResponse r = expect_same(stack(), get("/wp-login.php"));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("id=\"loginform\""), std::string::npos);
  EXPECT_EQ(cookie_names(r), std::vector<std::string>{"wordpress_test_cookie"});
  r = expect_same(stack(), get("/wp-admin/"));
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(r.header("location").rfind("http://" + site_->host + "/wp-login.php?redirect_to=", 0),
            0u)
      << r.header("location");
  // A wrong password: the form again, with the error.
  r = expect_same(stack(), request("POST", "/wp-login.php", site_->host,
                                   "Cookie: wordpress_test_cookie=WP%20Cookie%20check\r\n",
                                   "log=admin&pwd=wrong&testcookie=1"));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("login_error"), std::string::npos);
}

// A real login on each server: the auth cookies, the redirect to the dashboard, then an admin
// page that needs them.
TEST_F(WordPressApp, LoginAndAdminPageWithTheCookies) {
  std::string login = request(
      "POST", "/wp-login.php", site_->host, "Cookie: wordpress_test_cookie=WP%20Cookie%20check\r\n",
      "log=admin&pwd=askr-test-password&testcookie=1&redirect_to=" + std::string("http%3A%2F%2F") +
          site_->host + "%2Fwp-admin%2F");
  PhpResponse ref = expect_same(stack(), login);
  EXPECT_EQ(ref.status, 302);
  EXPECT_EQ(ref.header("location"), "http://" + site_->host + "/wp-admin/");
  for (const Server& s : stack().servers()) {
    CookieJar jar;
    jar.update(php_fetch(s.port, login, 30000));
    PhpResponse r = php_fetch(s.port, get("/wp-admin/profile.php", jar.header()), 30000);
    EXPECT_EQ(r.status, 200) << s.name << " " << r.header("location");
    EXPECT_NE(r.body.find("id=\"your-profile\""), std::string::npos) << s.name;
  }
}

// WordPress offers pretty permalinks only where it believes the server rewrites URLs (its
// got_url_rewrite(): Apache's mod_rewrite, or "nginx" in SERVER_SOFTWARE); elsewhere the
// Permalinks screen offers /index.php/... structures, and saving it moves every URL of the site
// there. The screen must be the one nginx + php-fpm show: /%postname%/ chosen, no /index.php.
TEST_F(WordPressApp, PermalinkSettingsOfferPrettyPermalinks) {
  std::string login = request("POST", "/wp-login.php", site_->host,
                              "Cookie: wordpress_test_cookie=WP%20Cookie%20check\r\n",
                              "log=admin&pwd=askr-test-password&testcookie=1");
  for (const Server& s : stack().servers()) {
    CookieJar jar;
    jar.update(php_fetch(s.port, login, 30000));
    PhpResponse r = php_fetch(s.port, get("/wp-admin/options-permalink.php", jar.header()), 30000);
    ASSERT_EQ(r.status, 200) << s.name << " " << r.header("location");
    EXPECT_NE(r.body.find("value=\"/%postname%/\""), std::string::npos) << s.name;
    EXPECT_EQ(r.body.find("/index.php/%postname%/"), std::string::npos) << s.name;
  }
}

// Clients at once, more of them than Askr's classic pool has workers: every page is whole and
// the same as nginx + php-fpm's.
TEST_F(WordPressApp, ConcurrentPostPagesMatch) {
  std::string expected =
      comparable(php_fetch(stack().nginx->port(), get("/askr-and-nginx/"), 30000));
  ASSERT_NE(expected.find("The same page from both servers."), std::string::npos);
  for (const Server& s : stack().servers()) {
    std::vector<std::future<std::string>> pages;
    for (int c = 0; c < 4; ++c) {
      pages.push_back(std::async(std::launch::async, [&, port = s.port] {
        std::string diffs;
        for (int i = 0; i < 3; ++i) {
          diffs += first_difference(expected,
                                    comparable(php_fetch(port, get("/askr-and-nginx/"), 30000)));
        }
        return diffs;
      }));
    }
    for (auto& p : pages) EXPECT_EQ(p.get(), "") << s.name;
  }
}

TEST_F(WordPressApp, StaticFilesInTheWordPressTreeMatch) {
  PhpResponse r = expect_same(stack(), get("/wp-includes/css/dashicons.min.css"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/css");
  EXPECT_EQ(r.body, read_file("/usr/share/wordpress/wp-includes/css/dashicons.min.css"));
}

// Debian ships WordPress's bundled scripts as symlinks to /usr/share/javascript: served with
// `symlinks = "follow"`, and with the default ("owner": link and target are both root's).

TEST_F(WordPressApp, SymlinkedAssetsAreServed) {
  const char* path = "/wp-includes/js/underscore.min.js";
  ASSERT_TRUE(fs::is_symlink(std::string(WordPressSite::kRoot) + path));
  for (const char* mode : {"symlinks = \"follow\"\n", ""}) {
    SCOPED_TRACE(mode);
    auto askr =
        start_askr(site_->host, WordPressSite::kRoot, stack().fpm->address(), "index.php", mode);
    for (const char* p : {path, "/wp-login.php"}) {  // the file, and a page that uses it
      PhpResponse ref = php_fetch(stack().nginx->port(), get(p));
      ASSERT_EQ(ref.status, 200) << p << stack().nginx->error_log();
      PhpResponse r = php_fetch(askr->port(), get(p));
      EXPECT_EQ(first_difference(comparable(ref), comparable(r)), "") << p << "\n"
                                                                      << askr->error_log();
    }
    std::string body = php_fetch(askr->port(), get(path)).body;
    EXPECT_TRUE(body == read_file("/usr/share/javascript/underscore/underscore.min.js"))
        << "not the target's bytes (" << body.size() << " bytes)";
  }
}

// Debian's layout serves /wp-content/ from /var/lib/wordpress/wp-content, whose themes and
// plugins are symlinks into /usr/share/wordpress/wp-content and whose uploads/ and languages/
// exist only there. The route mirrors nginx's `location /wp-content/ { alias ...; }`.
TEST_F(WordPressApp, WpContentThroughARouteAlias) {
  auto askr = start_askr(site_->host, WordPressSite::kRoot, stack().fpm->address(), "index.php", "",
                         "[[site.route]]\nprefix = \"/wp-content/\"\n"
                         "alias = \"/var/lib/wordpress/wp-content/\"\nsymlinks = \"follow\"\n"
                         "front_controller = \"\"\n");
  for (const char* path : {"/wp-content/themes/twentytwentythree/style.css",
                           "/wp-content/themes/twentytwentythree/theme.json",
                           "/wp-content/uploads/",  // a directory without an index: 403
                           "/wp-content/languages/core/", "/wp-content/no-such-file.css",
                           "/wp-content/../../../etc/passwd"}) {
    PhpResponse ref = php_fetch(stack().nginx->port(), get(path));
    PhpResponse r = php_fetch(askr->port(), get(path));
    EXPECT_EQ(r.status, ref.status) << path << "\n" << askr->error_log();
    if (ref.status == 200) {
      EXPECT_EQ(first_difference(comparable(ref), comparable(r)), "") << path;
    }
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << path;
  }
  EXPECT_EQ(php_fetch(stack().nginx->port(), get("/wp-content/uploads/")).status, 403);
}

}  // namespace
}  // namespace askr::testing
