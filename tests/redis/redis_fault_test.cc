// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// RedisStore under faults, each against a real redis-server (or a fake one
// that answers garbage): down at start, killed mid-flight, SIGSTOP,
// CLIENT PAUSE, garbage, SCRIPT FLUSH, FLUSHALL. In every case: no call
// blocks on Redis, Redis's errors never count against a peer, the sets keep
// working on local state, nothing crashes, and sharing resumes once Redis
// is back.

#include "circuit/redis_store.h"

#include <chrono>
#include <string>

#include <boost/test/unit_test.hpp>

#include "circuit/circuit.h"
#include "redis_harness.h"

namespace {

using circuit::State;
using namespace circuit::testing;
using std::chrono::milliseconds;
using Steady = std::chrono::steady_clock;

struct SkipWithoutRedis {
  SkipWithoutRedis() { RequireRedisOrSkip(); }
};
BOOST_TEST_GLOBAL_FIXTURE(SkipWithoutRedis);

// The slowest a single call may be: generous for a loaded machine, and below
// the tests' command timeout (500 ms), which a call blocked on Redis would
// take at least.
constexpr long kCallBoundMs = 250;

circuit::BreakerOptions Policy(int max_failures) {
  circuit::BreakerOptions b;
  b.max_failures = max_failures;
  b.reset_timeout = absl::Seconds(30);
  return b;
}

// Drives calls for `duration` (successes and some failures on `peer`, only
// successes elsewhere), returning the slowest single admission + settle.
// Generous bound in the asserts: a call that waited on Redis would take at
// least one command timeout.
milliseconds Traffic(circuit::CircuitBreakerSet& set, milliseconds duration,
                     const std::string& peer = "") {
  auto end = Steady::now() + duration;
  auto worst = Steady::duration::zero();
  int i = 0;
  while (Steady::now() < end) {
    auto t0 = Steady::now();
    {
      auto ctx = set.try_context(peer.empty() || i % 3 ? "ok-peer-" + std::to_string(i % 50) : peer);
      if (ctx.ok()) {
        if (!peer.empty() && i % 3 == 0) {
          ctx->fail();
        } else {
          ctx->succeed();
        }
      }
    }
    worst = std::max(worst, Steady::now() - t0);
    ++i;
    if (i % 64 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return std::chrono::duration_cast<milliseconds>(worst);
}

// The "ok" peers of Traffic() never count a failure, whatever Redis did.
void ExpectNoFailuresCounted(circuit::CircuitBreakerSet& set) {
  for (int i = 0; i < 50; ++i) {
    auto s = set.snapshot("ok-peer-" + std::to_string(i));
    if (!s) continue;
    BOOST_TEST(s->failures == 0u);
    BOOST_TEST((s->state == State::kClosed));
  }
}

// Two nodes sharing `prefix` on `port` trip a fresh peer together. A flush
// whose command fails (a command timeout on a loaded machine, a link lost
// just after a restart) loses its counts by design, never doubles them:
// when a store counted such an error during the attempt, it is made again
// on another fresh peer, at most twice more. A trip missed while neither
// store counted an error fails at once.
void ExpectSharingWorks(Node& a, Node& b, const std::string& peer) {
  auto errors = [&] { return a.store->stats().errors + b.store->stats().errors; };
  for (int attempt = 0;; ++attempt) {
    BOOST_REQUIRE(WaitFor(
        [&] { return a.store->healthy() && b.store->healthy(); },
        std::chrono::seconds(15)));
    const std::uint64_t errors_before = errors();
    const std::string p =
        attempt == 0 ? peer : peer + "-attempt-" + std::to_string(attempt);
    FailCalls(*a.set, p, 2);
    FailCalls(*b.set, p, 2);
    const bool open = WaitState(*a.set, p, State::kOpen) &&
                      WaitState(*b.set, p, State::kOpen);
    if (open) return;
    if (errors() == errors_before || attempt == 2) {
      BOOST_TEST(open, p << " not open on both nodes; " << errors() - errors_before
                         << " store errors during the attempt");
      return;
    }
    BOOST_TEST_MESSAGE(p << ": a flush failed (" << errors() - errors_before
                         << " store errors); again on a fresh peer");
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(RedisFaultTest)

BOOST_AUTO_TEST_CASE(DownAtStartThenComesUp) {
  int port = FreePort();
  auto r = TestRedisOptions(port, Prefix("down-at-start"));
  auto t0 = Steady::now();
  Node a = MakeNode(r, Policy(3));
  Node b = MakeNode(r, Policy(3));
  BOOST_TEST((Steady::now() - t0 < milliseconds(kCallBoundMs)));  // never waits
  BOOST_TEST(!a.store->healthy());

  BOOST_TEST(Traffic(*a.set, milliseconds(300), "local").count() < kCallBoundMs);
  BOOST_TEST((a.set->state("local") == State::kOpen));  // local rules work
  ExpectNoFailuresCounted(*a.set);

  RedisServer server(port);
  ExpectSharingWorks(a, b, "after-start");
}

BOOST_AUTO_TEST_CASE(KilledMidFlightAndRestarted) {
  RedisServer server;
  auto r = TestRedisOptions(server.port(), Prefix("killed"));
  Node a = MakeNode(r, Policy(3));
  Node b = MakeNode(r, Policy(3));
  ExpectSharingWorks(a, b, "before");

  server.Kill();
  BOOST_TEST(Traffic(*a.set, milliseconds(500), "during").count() < kCallBoundMs);
  BOOST_TEST(WaitFor([&] { return !a.store->healthy(); }));
  ExpectNoFailuresCounted(*a.set);
  BOOST_TEST((a.set->state("before") == State::kOpen));  // learned opens stay

  BOOST_REQUIRE(server.Start());  // same port, no data, no scripts
  ExpectSharingWorks(a, b, "after");
  BOOST_TEST(a.store->stats().reconnects >= 4u);
}

BOOST_AUTO_TEST_CASE(StoppedWithSigstop) {
  RedisServer server;
  auto r = TestRedisOptions(server.port(), Prefix("sigstop"));
  Node a = MakeNode(r, Policy(3));
  Node b = MakeNode(r, Policy(3));
  ExpectSharingWorks(a, b, "before");

  server.Pause();  // connects still succeed (kernel backlog); replies never come
  BOOST_TEST(Traffic(*a.set, milliseconds(800), "during").count() < kCallBoundMs);
  BOOST_TEST(WaitFor([&] { return !a.store->healthy(); }));
  ExpectNoFailuresCounted(*a.set);
  BOOST_TEST(Traffic(*a.set, milliseconds(300)).count() < kCallBoundMs);

  server.Resume();
  ExpectSharingWorks(a, b, "after");
}

BOOST_AUTO_TEST_CASE(ClientPauseWriteAndAll) {
  RedisServer server;
  auto r = TestRedisOptions(server.port(), Prefix("pause"));
  Node a = MakeNode(r, Policy(3));
  Node b = MakeNode(r, Policy(3));
  ExpectSharingWorks(a, b, "before");

  for (const char* mode : {"WRITE", "ALL"}) {
    BOOST_TEST_CONTEXT("CLIENT PAUSE " << mode) {
      BOOST_REQUIRE(server.Cmd({"CLIENT", "PAUSE", "1000", mode}) == "OK");
      BOOST_TEST(Traffic(*a.set, milliseconds(600), std::string("during-") + mode).count() < kCallBoundMs);
      ExpectNoFailuresCounted(*a.set);
      BOOST_REQUIRE(WaitFor([&] { return server.Cmd({"PING"}) == "PONG"; }));
    }
  }
  server.Cmd({"CLIENT", "UNPAUSE"});
  ExpectSharingWorks(a, b, "after");
}

BOOST_AUTO_TEST_CASE(ServerAnsweringGarbage) {
  for (std::string reply : {std::string("HTTP/1.1 400 Bad Request\r\n\r\n"),
                            std::string(":1\r\n"),
                            std::string("*2\r\n$1\r\nx\r\n:-5\r\n"),
                            std::string("$-1\r\n"),
                            std::string("*-1\r\n")}) {
    BOOST_TEST_CONTEXT("reply " << reply) {
      GarbageServer garbage(reply);
      auto r = TestRedisOptions(garbage.port(), Prefix("garbage"));
      Node a = MakeNode(r, Policy(3));
      BOOST_TEST(Traffic(*a.set, milliseconds(300), "local").count() < kCallBoundMs);
      BOOST_TEST(WaitFor([&] { return garbage.connections() >= 2; }));
      BOOST_TEST(!a.store->healthy());
      BOOST_TEST((a.set->state("local") == State::kOpen));
      ExpectNoFailuresCounted(*a.set);
      BOOST_TEST(WaitFor([&] { return a.store->stats().errors > 0; }));
    }
  }
}

BOOST_AUTO_TEST_CASE(ScriptFlushIsRecoveredFrom) {
  RedisServer server;
  auto r = TestRedisOptions(server.port(), Prefix("script-flush"));
  Node a = MakeNode(r, Policy(3));
  Node b = MakeNode(r, Policy(3));
  ExpectSharingWorks(a, b, "before");

  BOOST_REQUIRE(server.Cmd({"SCRIPT", "FLUSH"}) == "OK");

  ExpectSharingWorks(a, b, "after");
}

BOOST_AUTO_TEST_CASE(FlushallWhileOpen) {
  RedisServer server;
  auto r = TestRedisOptions(server.port(), Prefix("flushall"));
  Node a = MakeNode(r, Policy(3));
  Node b = MakeNode(r, Policy(3));
  ExpectSharingWorks(a, b, "before");

  BOOST_REQUIRE(server.Cmd({"FLUSHALL"}) == "OK");
  // Force the resync path too: drop the subscribers.
  server.Cmd({"CLIENT", "KILL", "TYPE", "pubsub"});
  BOOST_REQUIRE(WaitFor([&] { return a.store->stats().resyncs >= 3; }));

  // Data loss does not close what was open: local deadlines rule.
  BOOST_TEST((a.set->state("before") == State::kOpen));
  BOOST_TEST((b.set->state("before") == State::kOpen));
  // A new incarnation: epochs restart, and new trips are shared.
  ExpectSharingWorks(a, b, "after");
}

BOOST_AUTO_TEST_CASE(HungServerAtStartAndAtDestruction) {
  // A SIGSTOPped server accepts connections and never answers: building a
  // store does not wait for it, calls do not, destroying one is bounded.
  RedisServer server;
  server.Pause();
  auto t0 = Steady::now();
  for (int i = 0; i < 3; ++i) {
    auto t1 = Steady::now();
    Node a = MakeNode(TestRedisOptions(server.port(), Prefix("hung")), Policy(3));
    BOOST_TEST((Steady::now() - t1 < milliseconds(kCallBoundMs)));
    BOOST_TEST(Traffic(*a.set, milliseconds(100), "x").count() < kCallBoundMs);
    BOOST_TEST(!a.store->healthy());
  }
  BOOST_TEST((Steady::now() - t0 < std::chrono::seconds(10)));
  server.Resume();
}

BOOST_AUTO_TEST_SUITE_END()
