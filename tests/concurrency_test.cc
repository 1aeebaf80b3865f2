// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Stress: many threads on one set, asserting invariants (exact counts, one
// probe under contention, no lost outcomes, contexts settled elsewhere).
// Nothing here measures time; the clock is a ManualClock moved only between
// phases. Run alone with `./concurrency_test --run_test=@stress`.

#include <atomic>
#include <deque>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "circuit/breaker_set.h"
#include "circuit/clock.h"
#include "test_util.h"

namespace bdata = boost::unit_test::data;
namespace utf = boost::unit_test;

using circuit::CircuitBreakerSet;
using circuit::Context;
using circuit::ManualClock;
using circuit::SetOptions;
using circuit::State;
using circuit::testing::CountingListener;
using circuit::testing::ManualOptions;

namespace {

constexpr int kThreads = 4;

// Runs `body(thread_index)` on `threads` threads released together.
template <class F>
void RunTogether(int threads, F body) {
  std::latch start(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      start.arrive_and_wait();
      body(t);
    });
  }
  for (std::thread& th : pool) th.join();
}

struct StressFixture {
  StressFixture() { set->add_listener(counts); }

  ManualClock clock;
  std::unique_ptr<CircuitBreakerSet> set =
      std::make_unique<CircuitBreakerSet>(ManualOptions(&clock, circuit::kUnlimited));
  std::shared_ptr<CountingListener> counts = std::make_shared<CountingListener>();
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(ConcurrencyTest, StressFixture, *utf::label("stress"))

BOOST_AUTO_TEST_CASE(CountsAreExactWithThreadsOnOnePeer, *utf::label("stress")) {
  constexpr int kCalls = 20000;

  RunTogether(kThreads, [&](int) {
    for (int i = 0; i < kCalls; ++i) {
      Context ctx = set->context("hot");
      switch (i % 3) {
        case 0: ctx.succeed(); break;
        case 1: ctx.fail(); break;
        default: ctx.ignore(); break;
      }
    }
  });

  auto snap = set->snapshot("hot");
  BOOST_REQUIRE(snap.has_value());
  const std::uint64_t per_kind = kThreads * ((kCalls + 2) / 3);
  BOOST_TEST(snap->successes == per_kind);
  BOOST_TEST(snap->failures == kThreads * ((kCalls + 1) / 3));
  BOOST_TEST(snap->calls == static_cast<std::uint64_t>(kThreads) * kCalls);
  BOOST_TEST(counts->before_calls.load() == kThreads * kCalls);
  BOOST_TEST(counts->successes.load() == static_cast<long>(snap->successes));
  BOOST_TEST(counts->failures.load() == static_cast<long>(snap->failures));
  BOOST_TEST(set->state("hot") == State::kClosed);
}

BOOST_AUTO_TEST_CASE(NoOutcomeIsLostAcrossManyPeers, *utf::label("stress")) {
  constexpr int kPeers = 500;
  constexpr int kRounds = 20;
  std::vector<std::string> peers;
  for (int p = 0; p < kPeers; ++p) peers.push_back("peer-" + std::to_string(p));

  RunTogether(kThreads, [&](int t) {
    for (int r = 0; r < kRounds; ++r) {
      for (int p = 0; p < kPeers; ++p) {
        // Each thread walks the peers from its own offset.
        const std::string& peer = peers[(p + t * 97) % kPeers];
        if ((p + r) % 5 == 0) {
          set->context(peer).fail();
        } else {
          set->context(peer).succeed();
        }
      }
    }
  });

  std::uint64_t calls = 0, failures = 0;
  for (const circuit::PeerSnapshot& s : set->snapshot()) {
    calls += s.calls;
    failures += s.failures;
  }
  BOOST_TEST(set->size() == static_cast<std::size_t>(kPeers));
  BOOST_TEST(calls == static_cast<std::uint64_t>(kThreads) * kPeers * kRounds);
  BOOST_TEST(failures == static_cast<std::uint64_t>(kThreads) * kPeers * kRounds / 5);
  BOOST_TEST(counts->successes.load() + counts->failures.load() ==
             static_cast<long>(calls));
}

BOOST_DATA_TEST_CASE_F(StressFixture, ExactlyHalfOpenMaxCallsProbesAreAdmittedUnderContention,
                       bdata::make({1, 3}), max_calls) {
  SetOptions o = ManualOptions(&clock, 0);
  o.defaults.half_open_max_calls = max_calls;
  CircuitBreakerSet s(o);
  constexpr int kRounds = 200;
  int wrong_rounds = 0;
  int admitted_while_open = 0;

  for (int round = 0; round < kRounds; ++round) {
    s.open("p");
    std::atomic<int> admitted{0};
    // While open: nobody gets in.
    RunTogether(kThreads, [&](int) {
      for (int i = 0; i < 50; ++i) {
        if (s.try_context("p").ok()) ++admitted;
      }
    });
    admitted_while_open += admitted.load();
    clock.advance(absl::Seconds(10));
    // Past the timeout: exactly max_calls probes, held until all have tried.
    std::vector<std::optional<Context>> held(kThreads * 50);
    admitted.store(0);
    RunTogether(kThreads, [&](int t) {
      for (int i = 0; i < 50; ++i) {
        absl::StatusOr<Context> ctx = s.try_context("p");
        if (ctx.ok()) {
          ++admitted;
          held[t * 50 + i].emplace(*std::move(ctx));
        }
      }
    });
    if (admitted.load() != max_calls) ++wrong_rounds;
    for (auto& c : held) {
      if (c.has_value()) c->ignore();
    }
  }

  BOOST_TEST(admitted_while_open == 0);
  BOOST_TEST(wrong_rounds == 0);
}

BOOST_AUTO_TEST_CASE(ProbesInFlightNeverExceedTheLimitAndCloseOnce,
                     *utf::label("stress")) {
  SetOptions o = ManualOptions(&clock, 0);
  o.defaults.half_open_max_calls = 2;
  o.defaults.half_open_successes = 50;
  CircuitBreakerSet s(o);
  auto c = std::make_shared<CountingListener>();
  s.add_listener(c);
  int wrong_rounds = 0;
  std::atomic<int> in_flight{0};
  std::atomic<int> most_in_flight{0};

  for (int round = 0; round < 20; ++round) {
    s.context("p").fail();
    clock.advance(absl::Seconds(10));
    const long closes_before = c->closes.load();
    RunTogether(kThreads, [&](int) {
      while (s.state("p") != State::kClosed) {
        absl::StatusOr<Context> ctx = s.try_context("p");
        if (!ctx.ok()) continue;
        int now = ++in_flight;
        int seen = most_in_flight.load();
        while (now > seen && !most_in_flight.compare_exchange_weak(seen, now)) {
        }
        --in_flight;
        ctx->succeed();
      }
    });
    if (c->closes.load() - closes_before != 1) ++wrong_rounds;
  }

  BOOST_TEST(wrong_rounds == 0);
  BOOST_TEST(most_in_flight.load() <= 2);
  BOOST_TEST(c->opens.load() == 20);
}

BOOST_AUTO_TEST_CASE(ClassificationMayChangeWhileCallsRun, *utf::label("stress")) {
  struct Kind : std::runtime_error {
    Kind() : std::runtime_error("kind") {}
  };
  std::atomic<bool> stop{false};
  std::atomic<long> thrown{0};
  std::thread caller([&] {
    while (!stop.load()) {
      try {
        set->call("p", [] { throw Kind(); });
      } catch (const Kind&) {
        ++thrown;
      }
    }
  });

  for (int i = 0; i < 200; ++i) {
    while (thrown.load() < (i + 1) * 5) std::this_thread::yield();
    set->handle_error<std::logic_error>();  // Kind is then a success
  }
  set->ignore_error<Kind>();
  long before_ignore = thrown.load();
  while (thrown.load() < before_ignore + 100) std::this_thread::yield();
  stop.store(true);
  caller.join();

  auto snap = set->snapshot("p");
  BOOST_REQUIRE(snap.has_value());
  BOOST_TEST(snap->calls == static_cast<std::uint64_t>(thrown.load()));
  BOOST_TEST(snap->ignored >= 1u);
  BOOST_TEST(snap->failures >= 1u);  // before the first handle_error
}

BOOST_AUTO_TEST_CASE(ConcurrentFailuresTripExactlyAtTheThreshold,
                     *utf::label("stress")) {
  constexpr int kMax = 199;  // kThreads * 50 = 200 failures = kMax + 1
  SetOptions o = ManualOptions(&clock, kMax);
  CircuitBreakerSet s(o);
  auto c = std::make_shared<CountingListener>();
  s.add_listener(c);
  int wrong = 0;

  for (int round = 0; round < 50; ++round) {
    std::string peer = "p" + std::to_string(round);
    // All contexts admitted first, so none is rejected after the trip.
    std::vector<std::vector<Context>> held(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      for (int i = 0; i < 50; ++i) held[t].push_back(s.context(peer));
    }
    // kMax failures in parallel: still closed.
    RunTogether(kThreads, [&](int t) {
      for (int i = 0; i < 50; ++i) {
        if (t != 0 || i != 0) held[t][i].fail();
      }
    });
    if (s.state(peer) != State::kClosed) ++wrong;
    held[0][0].fail();  // the (kMax + 1)-th
    if (s.state(peer) != State::kOpen) ++wrong;
  }

  BOOST_TEST(wrong == 0);
  BOOST_TEST(c->opens.load() == 50);
}

BOOST_AUTO_TEST_CASE(RacingFailuresOpenOnceAndLoseNone, *utf::label("stress")) {
  constexpr int kMax = 99;
  CircuitBreakerSet s(ManualOptions(&clock, kMax));
  auto c = std::make_shared<CountingListener>();
  s.add_listener(c);

  // Every thread fails as fast as it can; exactly one failure trips it.
  std::atomic<long> rejected{0};
  RunTogether(kThreads, [&](int) {
    for (int i = 0; i < 1000; ++i) {
      absl::StatusOr<Context> ctx = s.try_context("p");
      if (ctx.ok()) {
        ctx->fail();
      } else {
        ++rejected;
      }
    }
  });

  BOOST_TEST(c->opens.load() == 1);
  BOOST_TEST(s.state("p") == State::kOpen);
  BOOST_TEST(s.snapshot("p")->failures + rejected.load() ==
             static_cast<std::uint64_t>(kThreads) * 1000);
  BOOST_TEST(s.snapshot("p")->failures >= static_cast<std::uint64_t>(kMax + 1));
}

BOOST_AUTO_TEST_CASE(ContextsSettleCorrectlyOnOtherThreads, *utf::label("stress")) {
  constexpr int kContexts = 20000;
  std::mutex mu;
  std::deque<Context> queue;
  std::atomic<bool> produced{false};

  std::thread producer([&] {
    for (int i = 0; i < kContexts; ++i) {
      Context ctx = set->context("async");
      std::lock_guard<std::mutex> lock(mu);
      queue.push_back(std::move(ctx));
    }
    produced.store(true);
  });
  std::atomic<long> settled{0};
  auto consumer = [&](int id) {
    for (;;) {
      std::optional<Context> ctx;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (!queue.empty()) {
          ctx.emplace(std::move(queue.front()));
          queue.pop_front();
        }
      }
      if (ctx.has_value()) {
        if (id == 0) ctx->fail();  // the other consumer's die as successes
        ++settled;
        continue;
      }
      if (produced.load()) {
        std::lock_guard<std::mutex> lock(mu);
        if (queue.empty()) return;
      }
      std::this_thread::yield();
    }
  };
  std::thread c0(consumer, 0), c1(consumer, 1);
  producer.join();
  c0.join();
  c1.join();

  auto snap = set->snapshot("async");
  BOOST_REQUIRE(snap.has_value());
  BOOST_TEST(settled.load() == kContexts);
  BOOST_TEST(snap->calls == static_cast<std::uint64_t>(kContexts));
  BOOST_TEST(static_cast<long>(snap->failures) == counts->failures.load());
  BOOST_TEST(static_cast<long>(snap->successes) == counts->successes.load());
}

BOOST_AUTO_TEST_CASE(ProbeSettledOnAnotherThreadClosesTheBreaker,
                     *utf::label("stress")) {
  CircuitBreakerSet s(ManualOptions(&clock, 0));
  int closed = 0;

  for (int round = 0; round < 200; ++round) {
    s.context("p").fail();
    clock.advance(absl::Seconds(10));
    Context probe = s.context("p");
    std::thread([p = std::move(probe)]() mutable { p.succeed(); }).join();
    if (s.state("p") == State::kClosed) ++closed;
  }

  BOOST_TEST(closed == 200);
}

BOOST_AUTO_TEST_CASE(LateOutcomesFromManyThreadsDoNotReopen, *utf::label("stress")) {
  CircuitBreakerSet s(ManualOptions(&clock, 0));
  auto c = std::make_shared<CountingListener>();
  s.add_listener(c);
  std::vector<std::vector<Context>> slow(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < 500; ++i) slow[t].push_back(s.context("p"));
  }
  s.open("p");
  s.close("p");

  RunTogether(kThreads, [&](int t) {
    for (Context& ctx : slow[t]) ctx.fail();
  });

  BOOST_TEST(s.state("p") == State::kClosed);
  BOOST_TEST(c->failures.load() == kThreads * 500);
  BOOST_TEST(c->opens.load() == 1);  // the manual one only
}

BOOST_AUTO_TEST_CASE(PeersCreatedConcurrentlyExistOnce, *utf::label("stress")) {
  constexpr int kPeers = 3000;

  RunTogether(kThreads, [&](int t) {
    for (int p = 0; p < kPeers; ++p) {
      set->context("p" + std::to_string((p * (t + 1)) % kPeers)).succeed();
    }
  });

  BOOST_TEST(set->size() == static_cast<std::size_t>(kPeers));
  std::uint64_t calls = 0;
  for (const auto& snap : set->snapshot()) calls += snap.calls;
  BOOST_TEST(calls == static_cast<std::uint64_t>(kThreads) * kPeers);
}

BOOST_AUTO_TEST_CASE(EvictionUnderContentionKeepsTheCapAndOpenPeers,
                     *utf::label("stress")) {
  SetOptions o = ManualOptions(&clock, 0);
  o.max_peers = 64;
  CircuitBreakerSet s(o);
  for (int i = 0; i < 8; ++i) s.context("sick-" + std::to_string(i)).fail();

  RunTogether(kThreads, [&](int t) {
    for (int i = 0; i < 5000; ++i) {
      // A context held across other admissions may see its peer evicted.
      Context held = s.context("t" + std::to_string(t) + "-" + std::to_string(i));
      s.context("t" + std::to_string(t) + "-x" + std::to_string(i % 100)).succeed();
      held.succeed();
    }
  });

  BOOST_TEST(s.size() <= 64u);
  for (int i = 0; i < 8; ++i) {
    BOOST_TEST(s.state("sick-" + std::to_string(i)) == State::kOpen);
  }
}

BOOST_AUTO_TEST_CASE(ListenersAddedWhileCallsRunMissNothingAfterwards,
                     *utf::label("stress")) {
  std::atomic<bool> stop{false};
  std::atomic<long> made{0};
  std::thread caller([&] {
    while (!stop.load()) {
      set->context("p").succeed();
      ++made;
    }
  });
  auto wait_for_calls = [&](long n) {
    long target = made.load() + n;
    while (made.load() < target) std::this_thread::yield();
  };
  std::vector<std::shared_ptr<CountingListener>> added;
  for (int i = 0; i < 50; ++i) {
    wait_for_calls(20);
    added.push_back(std::make_shared<CountingListener>());
    set->add_listener(added.back());
  }
  wait_for_calls(20);

  stop.store(true);
  caller.join();

  // Each later listener heard a suffix of what an earlier one heard.
  bool ordered = true;
  for (std::size_t i = 1; i < added.size(); ++i) {
    if (added[i]->successes.load() > added[i - 1]->successes.load()) ordered = false;
  }
  BOOST_TEST(ordered);
  BOOST_TEST(added.back()->successes.load() >= 20);
  auto snap = set->snapshot("p");
  BOOST_REQUIRE(snap.has_value());
  BOOST_TEST(counts->successes.load() == static_cast<long>(snap->successes));
  BOOST_TEST(counts->successes.load() == made.load());
}

BOOST_AUTO_TEST_SUITE_END()
