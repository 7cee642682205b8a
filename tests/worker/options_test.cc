#include "options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace askr::worker {
namespace {

Result<Options> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "askr-worker");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return parse_options(int(argv.size()), argv.data());
}

TEST(Options, Everything) {
  Result<Options> o = parse({"--mode", "worker", "--script=/w.php", "--listen", "/s", "-d", "a=1",
                             "-db=2", "--max-requests", "10", "--memory-limit", "64m", "--php-ini",
                             "/p.ini", "--ini-scan-dir", "", "--user", "www-data", "--group=adm"});
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->mode, Options::Mode::kWorker);
  EXPECT_EQ(o->script, "/w.php");
  EXPECT_EQ(o->listen_path, "/s");
  EXPECT_EQ(o->defines, (std::vector<std::string>{"a=1", "b=2"}));
  EXPECT_EQ(o->max_requests, 10u);
  EXPECT_EQ(o->memory_limit, 64u << 20);
  EXPECT_EQ(o->php_ini, "/p.ini");
  EXPECT_TRUE(o->ini_scan_dir_set);
  EXPECT_EQ(o->ini_scan_dir, "");
  EXPECT_EQ(o->user, "www-data");
  EXPECT_EQ(o->group, "adm");
}

TEST(Options, Errors) {
  EXPECT_FALSE(parse({"--mode", "fast"}).ok());
  EXPECT_FALSE(parse({"--mode", "worker"}).ok());  // no --script
  EXPECT_FALSE(parse({"--max-requests", "x"}).ok());
  EXPECT_FALSE(parse({"--memory-limit", "-1"}).ok());
  EXPECT_FALSE(parse({"--listen"}).ok());
  EXPECT_FALSE(parse({"--bogus"}).ok());
  EXPECT_TRUE(parse({"--version"}).ok());
  EXPECT_FALSE(parse({"--zygote", "--listen", "/s"}).ok());  // a zygote's workers get theirs
  EXPECT_FALSE(parse({"--group", "adm"}).ok());              // a group without a user
}

TEST(Options, Zygote) {
  Result<Options> o = parse({"--zygote", "--pool", "app", "--mode", "classic"});
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_TRUE(o->zygote);
  EXPECT_EQ(o->pool, "app");
  EXPECT_FALSE(parse({"--mode", "classic"})->zygote);
}

}  // namespace
}  // namespace askr::worker
