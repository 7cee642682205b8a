#include "net/ticket_keys.h"

#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

namespace askr::net {
namespace {

bool same(const TicketKeys::Key& a, const TicketKeys::Key& b) {
  return std::memcmp(a.name, b.name, sizeof a.name) == 0 &&
         std::memcmp(a.aes, b.aes, sizeof a.aes) == 0 &&
         std::memcmp(a.hmac, b.hmac, sizeof a.hmac) == 0;
}

TEST(TicketKeys, OneKeyEncryptsUntilItsPeriodEnds) {
  TicketKeys keys(3600, 13 * 3600);
  TicketKeys::Key a = keys.encrypt_key(1000);
  EXPECT_TRUE(same(keys.encrypt_key(1000 + 3599), a));
  EXPECT_EQ(keys.size(), 1u);
  TicketKeys::Key b = keys.encrypt_key(1000 + 3600);
  EXPECT_FALSE(same(a, b));
  EXPECT_FALSE(std::memcmp(a.name, b.name, sizeof a.name) == 0);
  EXPECT_EQ(keys.size(), 2u);
}

TEST(TicketKeys, PreviousKeysDecryptUntilTheirLifetimeEnds) {
  TicketKeys keys(3600, 13 * 3600);
  TicketKeys::Key a = keys.encrypt_key(0);
  bool current = false;
  ASSERT_TRUE(keys.decrypt_key(a.name, 10, current));
  EXPECT_TRUE(current);
  TicketKeys::Key b = keys.encrypt_key(3600);
  auto old = keys.decrypt_key(a.name, 3601, current);
  ASSERT_TRUE(old);
  EXPECT_TRUE(same(*old, a));
  EXPECT_FALSE(current);  // decrypts, but the ticket should be renewed
  ASSERT_TRUE(keys.decrypt_key(b.name, 3601, current));
  EXPECT_TRUE(current);
  EXPECT_TRUE(keys.decrypt_key(a.name, 13 * 3600 - 1, current));
  EXPECT_FALSE(keys.decrypt_key(a.name, 13 * 3600, current));  // past its lifetime
}

TEST(TicketKeys, ExpiredKeysAreDroppedAtRotation) {
  TicketKeys keys(10, 30);
  TicketKeys::Key first = keys.encrypt_key(0);
  for (int64_t t = 10; t <= 100; t += 10) keys.encrypt_key(t);
  EXPECT_LE(keys.size(), 3u);  // 30 s of keys made every 10 s
  bool current = false;
  EXPECT_FALSE(keys.decrypt_key(first.name, 100, current));
}

TEST(TicketKeys, UnknownNameIsRefused) {
  TicketKeys keys;
  keys.encrypt_key(0);
  uint8_t name[16] = {};
  bool current = true;
  EXPECT_FALSE(keys.decrypt_key(name, 1, current));
}

// Every loop asks for the key at once when the period ends: they all get the same new key.
TEST(TicketKeys, ConcurrentRotationMakesOneKey) {
  TicketKeys keys(3600, 7200);
  keys.encrypt_key(0);
  std::vector<TicketKeys::Key> got(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i) {
    threads.emplace_back([&, i] { got[i] = keys.encrypt_key(3600); });
  }
  for (auto& t : threads) t.join();
  for (const auto& k : got) EXPECT_TRUE(same(k, got[0]));
  EXPECT_EQ(keys.size(), 2u);
}

}  // namespace
}  // namespace askr::net
