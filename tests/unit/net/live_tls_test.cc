#include "net/live_tls.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "self_signed.h"

namespace askr::net {
namespace {

// A config with one site and a self-signed ECDSA certificate, made with the openssl CLI.
class LiveTls : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cert_.ok);
    config::Site site;
    site.server_names = {"live.test"};
    site.root = cert_.dir;
    site.certificates.emplace_back().certificate = cert_.pem;
    site.certificates.back().key = cert_.key;
    cfg_.sites.push_back(site);
    cfg_.default_site = 0;
  }

  std::shared_ptr<const TlsContexts> build(std::shared_ptr<TicketKeys> keys = nullptr) {
    Result<std::unique_ptr<TlsContexts>> t = TlsContexts::build(cfg_, std::move(keys));
    EXPECT_TRUE(t) << t.error().message;
    return t ? std::shared_ptr<const TlsContexts>(std::move(*t)) : nullptr;
  }

  SelfSigned cert_{"askr-live-tls", "live.test"};
  config::Config cfg_;
};

TEST_F(LiveTls, LoopSeesAPublishOnceAndKeepsItsReferenceUntilThen) {
  LiveTlsContexts live;
  std::shared_ptr<const TlsContexts> held;
  uint64_t seen = 0;
  EXPECT_FALSE(live.refresh(held, seen));  // nothing published yet
  EXPECT_EQ(held, nullptr);

  std::shared_ptr<const TlsContexts> first = build();
  live.publish(first);
  EXPECT_TRUE(live.refresh(held, seen));
  EXPECT_EQ(held, first);
  EXPECT_FALSE(live.refresh(held, seen));
  EXPECT_EQ(live.get(), first);

  // A reload: the loop moves on at its next refresh, and the old set is freed once the last
  // holder (a connection made with it, here `conn`) lets go.
  std::shared_ptr<const TlsContexts> conn = held;
  std::weak_ptr<const TlsContexts> old = first;
  first.reset();
  std::shared_ptr<const TlsContexts> second = build(held->ticket_keys());
  live.publish(second);
  EXPECT_EQ(held, conn);  // not before its refresh
  EXPECT_TRUE(live.refresh(held, seen));
  EXPECT_EQ(held, second);
  EXPECT_FALSE(old.expired());
  conn.reset();
  EXPECT_TRUE(old.expired());
}

TEST_F(LiveTls, ReloadedSetKeepsTheTicketKeys) {
  std::shared_ptr<const TlsContexts> first = build();
  std::shared_ptr<const TlsContexts> second = build(first->ticket_keys());
  EXPECT_EQ(first->ticket_keys(), second->ticket_keys());
  EXPECT_NE(build()->ticket_keys(), first->ticket_keys());
}

// Loops refresh while the main thread publishes: every loop ends on the last set, and only it
// stays alive.
TEST_F(LiveTls, ConcurrentRefreshEndsOnTheLastPublish) {
  LiveTlsContexts live;
  std::shared_ptr<const TlsContexts> a = build(), b = build(a->ticket_keys());
  live.publish(a);
  std::atomic<bool> done{false};
  std::vector<std::thread> loops;
  std::vector<std::shared_ptr<const TlsContexts>> held(2);
  for (size_t i = 0; i < held.size(); ++i) {
    loops.emplace_back([&, i] {
      uint64_t seen = 0;
      while (!done.load()) live.refresh(held[i], seen);
      live.refresh(held[i], seen);
    });
  }
  for (int i = 0; i < 2000; ++i) live.publish(i % 2 ? a : b);
  live.publish(b);
  done = true;
  for (std::thread& t : loops) t.join();
  for (const auto& h : held) EXPECT_EQ(h, b);
}

}  // namespace
}  // namespace askr::net
