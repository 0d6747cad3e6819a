// The Store on both backends: accounts, browser sessions, reset tokens.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "core/clock.h"
#include "store/store.h"
#include "store/store_impl.h"
#include "store/store_test_fixture.h"

namespace salvus::store {
namespace {

using test::StoreTest;

TYPED_TEST_SUITE(StoreTest, test::Backends);

constexpr char kAnn[] = "0123456789abcdef0123456789abcdef";
constexpr char kBob[] = "fedcba9876543210fedcba9876543210";
const std::string kHash1(64, 'a');
const std::string kHash2(64, 'b');
const std::string kHash3(64, 'c');

TYPED_TEST(StoreTest, Accounts) {
  auto& s = this->store_;
  Account ann{kAnn, "$argon2id$v=19$m=8,t=1,p=1$x$y", 0, false};
  this->Ok(this->template Call<void>([&](auto cb) { s->CreateAccount(ann, cb); }));
  // The same id again is refused: the first keeps its hash.
  Account again = ann;
  again.password_hash = "other";
  auto dup = this->template Call<void>([&](auto cb) { s->CreateAccount(again, cb); });
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().find("already taken"), std::string::npos) << dup.error();

  auto got = this->template Call<std::optional<Account>>([&](auto cb) { s->GetAccount(kAnn, cb); });
  ASSERT_TRUE(got) << got.error();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->id, kAnn);
  EXPECT_EQ((*got)->password_hash, ann.password_hash);
  EXPECT_GT((*got)->created_ms, 1600000000000);
  EXPECT_FALSE((*got)->is_operator);

  auto set = this->template Call<bool>([&](auto cb) { s->SetPasswordHash(kAnn, "new", cb); });
  ASSERT_TRUE(set && *set);
  auto op = this->template Call<bool>([&](auto cb) { s->SetOperator(kAnn, true, cb); });
  ASSERT_TRUE(op && *op);
  got = this->template Call<std::optional<Account>>([&](auto cb) { s->GetAccount(kAnn, cb); });
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->password_hash, "new");
  EXPECT_TRUE((*got)->is_operator);

  // Unknown accounts: nothing, not errors.
  for (std::string id : {std::string(kBob), std::string(""), std::string("'; DROP TABLE x; --")}) {
    auto none =
        this->template Call<std::optional<Account>>([&](auto cb) { s->GetAccount(id, cb); });
    ASSERT_TRUE(none) << none.error();
    EXPECT_FALSE(none->has_value());
    auto no = this->template Call<bool>([&](auto cb) { s->SetPasswordHash(id, "x", cb); });
    ASSERT_TRUE(no);
    EXPECT_FALSE(*no);
  }
  // Malformed ids never reach the table.
  for (std::string bad : {"ABCDEF0123456789ABCDEF0123456789", "short", ""}) {
    Account a{bad, "h", 0, false};
    EXPECT_FALSE(this->template Call<void>([&](auto cb) { s->CreateAccount(a, cb); })) << bad;
  }
  EXPECT_EQ(this->Count("accounts"), 1);
}

TYPED_TEST(StoreTest, BrowserSessions) {
  auto& s = this->store_;
  for (const char* id : {kAnn, kBob}) {
    Account a{id, "h", 0, false};
    this->Ok(this->template Call<void>([&](auto cb) { s->CreateAccount(a, cb); }));
  }
  auto create = [&](const std::string& h, const std::string& account) {
    return this->template Call<void>([&](auto cb) { s->CreateBrowserSession(h, account, cb); });
  };
  auto get = [&](const std::string& h) {
    auto r = this->template Call<std::optional<BrowserSession>>(
        [&](auto cb) { s->GetBrowserSession(h, cb); });
    EXPECT_TRUE(r) << r.error();
    return r ? *r : std::nullopt;
  };
  this->Ok(create(kHash1, kAnn));
  this->Ok(create(kHash2, kAnn));
  this->Ok(create(kHash3, kBob));
  EXPECT_FALSE(create(kHash1, kBob));          // a token hash is one session's
  EXPECT_FALSE(create("not-a-sha256", kAnn));  // fixed shapes only
  EXPECT_FALSE(create(std::string(64, 'd'), "x"));

  auto one = get(kHash1);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->account, kAnn);
  EXPECT_FALSE(one->revoked);
  EXPECT_GT(one->created_ms, 1600000000000);
  EXPECT_FALSE(get(std::string(64, 'e')));

  // Sign-out: that session only, once.
  auto out = this->template Call<bool>([&](auto cb) { s->RevokeBrowserSession(kHash1, cb); });
  ASSERT_TRUE(out && *out);
  out = this->template Call<bool>([&](auto cb) { s->RevokeBrowserSession(kHash1, cb); });
  ASSERT_TRUE(out);
  EXPECT_FALSE(*out);
  EXPECT_TRUE(get(kHash1)->revoked);
  EXPECT_FALSE(get(kHash2)->revoked);

  // Everywhere: every session of the account, no one else's.
  this->Ok(create(std::string(64, 'f'), kAnn));
  auto n = this->template Call<int64_t>([&](auto cb) { s->RevokeAccountSessions(kAnn, cb); });
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(*n, 2);  // kHash2 and ffff..., not the one already revoked
  EXPECT_TRUE(get(kHash2)->revoked);
  EXPECT_FALSE(get(kHash3)->revoked);

  // Deleting an account takes its sessions.
  auto del = this->template Call<bool>([&](auto cb) { s->DeleteAccount(kBob, cb); });
  ASSERT_TRUE(del && *del);
  EXPECT_FALSE(get(kHash3));
  del = this->template Call<bool>([&](auto cb) { s->DeleteAccount(kBob, cb); });
  ASSERT_TRUE(del);
  EXPECT_FALSE(*del);
}

TYPED_TEST(StoreTest, ResetTokens) {
  auto& s = this->store_;
  const int64_t now = core::NowMs();
  auto create = [&](const std::string& h, int64_t expires) {
    return this->template Call<void>([&](auto cb) { s->CreateResetToken(h, kAnn, expires, cb); });
  };
  auto use = [&](const std::string& h, int64_t at) {
    auto r = this->template Call<std::optional<std::string>>(
        [&](auto cb) { s->UseResetToken(h, at, cb); });
    EXPECT_TRUE(r) << r.error();
    return r ? *r : std::nullopt;
  };
  this->Ok(create(kHash1, now + 3600 * 1000));
  this->Ok(create(kHash2, now + 3600 * 1000));
  EXPECT_FALSE(create(kHash1, now + 1000));  // taken
  EXPECT_FALSE(create("abc", now + 1000));

  // Single use.
  EXPECT_EQ(use(kHash1, now), std::optional<std::string>(kAnn));
  EXPECT_FALSE(use(kHash1, now));
  // Expired: refused, even unused.
  EXPECT_FALSE(use(kHash2, now + 3600 * 1000 + 1));
  EXPECT_EQ(use(kHash2, now + 1000), std::optional<std::string>(kAnn));
  EXPECT_FALSE(use(std::string(64, 'e'), now));

  // Expired tokens go when a new one is made.
  this->Ok(create(kHash3, now - 1));
  this->Ok(create(std::string(64, 'd'), now + 1000));
  EXPECT_EQ(this->Count("reset_tokens"), 3);  // kHash1, kHash2 (used, unexpired), dddd...
}

}  // namespace
}  // namespace salvus::store
