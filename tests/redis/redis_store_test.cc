// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// RedisStore semantics against a real redis-server: shared windows, shared
// trips, later joiners, quorum, fleet-wide probes, epoch fencing, TTLs,
// the absence of store work on the closed success path, and AUTH. Each `Node` is a
// store with its own connections and instance id, i.e. what a separate
// process would be (the multi-process test does it with real processes).

#include "circuit/redis_store.h"

#include <chrono>
#include <stdexcept>
#include <string>

#include <boost/test/unit_test.hpp>

#include "circuit/circuit.h"
#include "redis/scripts.h"
#include "redis_harness.h"

namespace {

using circuit::State;
using namespace circuit::testing;
using std::chrono::milliseconds;

struct SkipWithoutRedis {
  SkipWithoutRedis() { RequireRedisOrSkip(); }
};
BOOST_TEST_GLOBAL_FIXTURE(SkipWithoutRedis);

struct ServerFixture {
  RedisServer server;
};

circuit::BreakerOptions Policy(int max_failures) {
  circuit::BreakerOptions b;
  b.max_failures = max_failures;
  b.time_unit = absl::Seconds(60);
  b.reset_timeout = absl::Seconds(30);
  return b;
}

std::string ExpectInvalid(const std::function<void(circuit::RedisOptions&)>& edit) {
  circuit::RedisOptions r;
  edit(r);
  try {
    circuit::RedisStore s(r);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(RedisOptionsTest)

BOOST_AUTO_TEST_CASE(DefaultsValidate) {
  BOOST_TEST(circuit::RedisOptions{}.validate().ok());
}

BOOST_AUTO_TEST_CASE(BadFieldsThrowNamingTheField) {
  using R = circuit::RedisOptions;
  BOOST_TEST(ExpectInvalid([](R& r) { r.host = ""; }).find("host") != std::string::npos);
  BOOST_TEST(ExpectInvalid([](R& r) { r.port = 0; }).find("port") != std::string::npos);
  BOOST_TEST(ExpectInvalid([](R& r) { r.port = 70000; }).find("port") != std::string::npos);
  BOOST_TEST(ExpectInvalid([](R& r) { r.key_prefix = ""; }).find("key_prefix") != std::string::npos);
  BOOST_TEST(ExpectInvalid([](R& r) { r.key_prefix = "a{b}"; }).find("key_prefix") != std::string::npos);
  BOOST_TEST(ExpectInvalid([](R& r) { r.connect_timeout = absl::ZeroDuration(); })
                 .find("connect_timeout") != std::string::npos);
  BOOST_TEST(ExpectInvalid([](R& r) { r.command_timeout = -absl::Seconds(1); })
                 .find("command_timeout") != std::string::npos);
  BOOST_TEST(ExpectInvalid([](R& r) { r.flush_interval = absl::InfiniteDuration(); })
                 .find("flush_interval") != std::string::npos);
  BOOST_TEST(ExpectInvalid([](R& r) { r.expedite_delay = absl::Seconds(5); })
                 .find("expedite_delay") != std::string::npos);
  BOOST_TEST(ExpectInvalid([](R& r) { r.batch_max_peers = 0; }).find("batch_max_peers") != std::string::npos);
  BOOST_TEST(ExpectInvalid([](R& r) { r.min_reporters = 0; }).find("min_reporters") != std::string::npos);
  BOOST_TEST(ExpectInvalid([](R& r) { r.max_pending_peers = 0; }).find("max_pending_peers") != std::string::npos);
  BOOST_TEST(ExpectInvalid([](R& r) { r.backoff_base = absl::Seconds(10); })
                 .find("backoff_base") != std::string::npos);
  BOOST_TEST(ExpectInvalid([](R& r) { r.probe_lease = absl::ZeroDuration(); })
                 .find("probe_lease") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(RedisStoreTest, ServerFixture)

BOOST_AUTO_TEST_CASE(BecomesHealthy) {
  Node a = MakeNode(TestRedisOptions(server.port(), Prefix("healthy")));

  BOOST_TEST(WaitFor([&] { return a.store->healthy(); }));
  BOOST_TEST(!a.store->instance_id().empty());
}

BOOST_AUTO_TEST_CASE(FailuresFromTwoProcessesTripBoth) {
  auto r = TestRedisOptions(server.port(), Prefix("shared"));
  Node a = MakeNode(r, Policy(3));
  Node b = MakeNode(r, Policy(3));
  BOOST_REQUIRE(WaitFor([&] { return a.store->healthy() && b.store->healthy(); }));

  // 2 + 2 failures: neither window alone has more than 3, the fleet's has.
  FailCalls(*a.set, "db-1", 2);
  FailCalls(*b.set, "db-1", 2);

  BOOST_TEST(WaitState(*a.set, "db-1", State::kOpen));
  BOOST_TEST(WaitState(*b.set, "db-1", State::kOpen));
  BOOST_TEST((a.set->state("db-2") == State::kClosed));
}

BOOST_AUTO_TEST_CASE(LocalTripIsSeenEverywhere) {
  auto r = TestRedisOptions(server.port(), Prefix("local-trip"));
  circuit::BreakerOptions p = Policy(circuit::kUnlimited);
  p.consecutive_failures = 2;  // a rule the fleet window does not run
  Node a = MakeNode(r, p);
  Node b = MakeNode(r, p);
  BOOST_REQUIRE(WaitFor([&] { return a.store->healthy() && b.store->healthy(); }));

  FailCalls(*a.set, "svc", 2);

  BOOST_TEST((a.set->state("svc") == State::kOpen));
  BOOST_TEST(WaitState(*b.set, "svc", State::kOpen));
}

BOOST_AUTO_TEST_CASE(LaterJoinerLearnsTheOpenState) {
  auto r = TestRedisOptions(server.port(), Prefix("joiner"));
  Node a = MakeNode(r, Policy(1));
  BOOST_REQUIRE(WaitFor([&] { return a.store->healthy(); }));
  FailCalls(*a.set, "peer-x", 2);
  BOOST_REQUIRE((a.set->state("peer-x") == State::kOpen));
  BOOST_REQUIRE(WaitFor([&] { return a.store->stats().flushes > 0; }));

  Node late = MakeNode(r, Policy(1));

  BOOST_TEST(WaitState(*late.set, "peer-x", State::kOpen));
  auto snap = late.set->snapshot("peer-x");
  BOOST_REQUIRE(snap.has_value());
  BOOST_TEST(snap->failures == 0u);  // learned, not counted
}

BOOST_AUTO_TEST_CASE(QuorumKeepsOneSickCallerLocal) {
  auto r = TestRedisOptions(server.port(), Prefix("quorum"));
  r.min_reporters = 2;
  Node a = MakeNode(r, Policy(3));
  Node b = MakeNode(r, Policy(3));
  BOOST_REQUIRE(WaitFor([&] { return a.store->healthy() && b.store->healthy(); }));

  FailCalls(*a.set, "api", 4);  // a trips locally
  BOOST_REQUIRE((a.set->state("api") == State::kOpen));
  // Its failures and trip reached Redis (a later failure of another peer
  // did, and one flusher sends in order), and the fleet did not open.
  FailCalls(*a.set, "sync", 1);
  BOOST_REQUIRE(WaitFor([&] {
    return server.Cmd({"EXISTS", "{" + r.key_prefix + "}:p:73796e63"}) == "1";
  }));
  std::string hex = "617069";  // "api"
  BOOST_TEST(server.Cmd({"ZCARD", "{" + r.key_prefix + "}:r:" + hex}) == "1");
  BOOST_TEST(server.Cmd({"HGET", "{" + r.key_prefix + "}:p:" + hex, "st"}) != "o");
  BOOST_TEST((b.set->state("api") == State::kClosed));

  FailCalls(*b.set, "api", 1);  // a second reporter: 5 > 3 from 2 processes

  BOOST_TEST(WaitState(*b.set, "api", State::kOpen));
}

BOOST_AUTO_TEST_CASE(OneProberDecidesForTheFleet) {
  auto r = TestRedisOptions(server.port(), Prefix("probe"));
  r.probe_lease = absl::Seconds(5);
  circuit::BreakerOptions p = Policy(2);
  p.reset_timeout = absl::Milliseconds(300);
  Node a = MakeNode(r, p);
  Node b = MakeNode(r, p);
  BOOST_REQUIRE(WaitFor([&] { return a.store->healthy() && b.store->healthy(); }));

  FailCalls(*b.set, "p", 1);
  BOOST_REQUIRE(WaitFor([&] { return b.store->stats().flushes > 0; }));
  FailCalls(*a.set, "p", 2);  // a's report crosses the threshold: a probes
  BOOST_REQUIRE(WaitState(*a.set, "p", State::kOpen));
  BOOST_REQUIRE(WaitState(*b.set, "p", State::kOpen));

  // The prober turns half-open after reset_timeout; the other waits.
  BOOST_REQUIRE(WaitState(*a.set, "p", State::kHalfOpen, milliseconds(3000)));
  BOOST_TEST((b.set->state("p") == State::kOpen));
  BOOST_TEST(!b.set->try_context("p").ok());
  {
    auto probe = a.set->try_context("p");
    BOOST_REQUIRE(probe.ok());
    probe->succeed();
  }
  BOOST_REQUIRE((a.set->state("p") == State::kClosed));

  // Its verdict closes the peer everywhere, well before b's own deadline.
  BOOST_TEST(WaitState(*b.set, "p", State::kClosed, milliseconds(3000)));
}

BOOST_AUTO_TEST_CASE(StaleVerdictIsFencedByTheEpoch) {
  auto r = TestRedisOptions(server.port(), Prefix("fence"));
  Node a = MakeNode(r, Policy(1));
  BOOST_REQUIRE(WaitFor([&] { return a.store->healthy(); }));
  FailCalls(*a.set, "f", 2);
  BOOST_REQUIRE(WaitFor([&] { return a.store->stats().flushes > 0; }));
  std::string key = "{" + r.key_prefix + "}:p:66";
  BOOST_REQUIRE(WaitFor([&] { return server.Cmd({"HGET", key, "st"}) == "o"; }));
  std::string inc = server.Cmd({"HGET", "{" + r.key_prefix + "}:m", "inc"});
  std::string ep = server.Cmd({"HGET", key, "ep"});

  // A process that knows an older epoch reports a close: refused.
  auto flush = [&](const std::string& kind, const std::string& kep) {
    return server.Cmd({"EVAL", circuit::internal::kFlushScript, "2",
                       "{" + r.key_prefix + "}:m", "{" + r.key_prefix + "}:o",
                       "stale-instance", "1", "60000", "10", "1", "30000", "1",
                       "-1", "1000", "{" + r.key_prefix + "}", kind, "66", "0",
                       inc, kep});
  };
  flush("c", std::to_string(std::stoll(ep) - 1));
  BOOST_TEST(server.Cmd({"HGET", key, "st"}) == "o");
  BOOST_TEST(server.Cmd({"HGET", key, "ep"}) == ep);

  // One that knows the current epoch (a manual close) is accepted.
  flush("c", ep);
  BOOST_TEST(server.Cmd({"HGET", key, "st"}) == "c");
  BOOST_TEST(std::stoll(server.Cmd({"HGET", key, "ep"})) > std::stoll(ep));
  BOOST_TEST(WaitState(*a.set, "f", State::kClosed));
}

BOOST_AUTO_TEST_CASE(ManualCloseIsShared) {
  auto r = TestRedisOptions(server.port(), Prefix("manual"));
  Node a = MakeNode(r, Policy(1));
  Node b = MakeNode(r, Policy(1));
  BOOST_REQUIRE(WaitFor([&] { return a.store->healthy() && b.store->healthy(); }));
  FailCalls(*a.set, "m", 2);
  BOOST_REQUIRE(WaitState(*b.set, "m", State::kOpen));

  b.set->close("m");

  BOOST_TEST(WaitState(*a.set, "m", State::kClosed));
}

BOOST_AUTO_TEST_CASE(EveryKeyCarriesATtl) {
  auto r = TestRedisOptions(server.port(), Prefix("ttl"));
  r.min_reporters = 2;
  Node a = MakeNode(r, Policy(1));
  Node b = MakeNode(r, Policy(1));
  BOOST_REQUIRE(WaitFor([&] { return a.store->healthy() && b.store->healthy(); }));
  FailCalls(*a.set, "k1", 3);
  FailCalls(*b.set, "k1", 3);
  FailCalls(*a.set, "k2", 1);
  BOOST_REQUIRE(WaitState(*a.set, "k1", State::kOpen));
  std::string k2 = "{" + r.key_prefix + "}:p:6b32";
  BOOST_REQUIRE(WaitFor([&] { return server.Cmd({"EXISTS", k2}) == "1"; }));

  std::string keys = server.Cmd({"KEYS", "{" + r.key_prefix + "}*"});
  BOOST_REQUIRE(!keys.empty());
  std::size_t start = 0;
  int checked = 0;
  while (start < keys.size()) {
    std::size_t end = keys.find('\n', start);
    if (end == std::string::npos) end = keys.size();
    std::string key = keys.substr(start, end - start);
    long long ttl = std::stoll(server.Cmd({"PTTL", key}));
    BOOST_TEST(ttl > 0, key << " has PTTL " << ttl);
    ++checked;
    start = end + 1;
  }
  BOOST_TEST(checked >= 4);  // meta, open index, two peers, reporters
}

BOOST_AUTO_TEST_CASE(ClosedSuccessesCauseNoRedisTraffic) {
  auto r = TestRedisOptions(server.port(), Prefix("quiet"));
  Node a = MakeNode(r, Policy(3));
  BOOST_REQUIRE(WaitFor([&] { return a.store->healthy(); }));
  auto before = a.store->stats();

  for (int i = 0; i < 20000; ++i) {
    auto ctx = a.set->context("hot");
    ctx.succeed();
  }

  auto after = a.store->stats();
  BOOST_TEST(after.flushes == before.flushes);
}

BOOST_AUTO_TEST_CASE(APasswordIsSentOnBothConnections) {
  BOOST_REQUIRE(server.Cmd({"CONFIG", "SET", "requirepass", "s3cret"}) == "OK");
  auto r = TestRedisOptions(server.port(), Prefix("auth"));
  r.password = "s3cret";
  Node a = MakeNode(r, Policy(1));
  Node b = MakeNode(r, Policy(1));
  // Healthy: the command connection loaded the scripts and the subscription
  // was confirmed, each after its own AUTH.
  BOOST_REQUIRE(WaitFor([&] { return a.store->healthy() && b.store->healthy(); }));

  FailCalls(*a.set, "db", 2);

  // Flushed by a's command connection, published to b's subscription.
  BOOST_TEST(WaitState(*b.set, "db", State::kOpen));
}

BOOST_AUTO_TEST_CASE(ARefusedPasswordLeavesTheSetLocal) {
  BOOST_REQUIRE(server.Cmd({"CONFIG", "SET", "requirepass", "s3cret"}) == "OK");
  auto r = TestRedisOptions(server.port(), Prefix("bad-auth"));
  r.password = "wrong";
  Node a = MakeNode(r, Policy(1));

  // Both connections keep trying, and neither ever counts as connected.
  BOOST_REQUIRE(WaitFor([&] { return a.store->stats().errors >= 4; }));
  BOOST_TEST(!a.store->healthy());
  BOOST_TEST(a.store->stats().reconnects == 0u);
  FailCalls(*a.set, "db", 2);
  BOOST_TEST((a.set->state("db") == State::kOpen));
}

BOOST_AUTO_TEST_SUITE_END()
