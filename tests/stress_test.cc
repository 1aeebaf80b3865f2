// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Concurrent stress with invariants checked at the end (suite 'stress').
// Nothing here is timed: each test runs a fixed amount of work on a
// `ManualClock` and then checks what must hold whatever the interleaving.
//
//   - Counts add up exactly: per peer, the snapshot's successes, failures,
//     ignored and rejections equal what the threads did, and so do the
//     listener's totals (contexts are also moved to and settled on other
//     threads, as async completions do).
//   - No more than `half_open_max_calls` probes are ever in flight.
//   - Nothing is admitted while open before the deadline; exactly
//     `half_open_max_calls` racing callers get in at the deadline.
//   - Eviction under a small `max_peers` while handles and contexts are held:
//     no crash, handled peers are never dropped (their counts stay exact),
//     the table stays bounded.
//
// CIRCUIT_STRESS_SCALE (default 1) multiplies the amount of work.

#include <algorithm>
#include <array>
#include <atomic>
#include <barrier>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "circuit/circuit.h"

namespace {

using circuit::CircuitBreakerSet;
using circuit::CircuitOpenError;
using circuit::Context;
using circuit::ManualClock;
using circuit::PeerHandle;
using circuit::PeerSnapshot;
using circuit::SetOptions;
using circuit::State;

struct Ignorable {};  // registered with ignore_error()

int Scale() {
  const char* v = std::getenv("CIRCUIT_STRESS_SCALE");
  int s = v == nullptr ? 1 : std::atoi(v);
  return s < 1 ? 1 : s;
}

constexpr int kThreads = 4;

// What one thread did to one peer.
struct Counts {
  std::uint64_t admitted = 0, successes = 0, failures = 0, ignored = 0,
                rejections = 0;
  void Add(const Counts& o) {
    admitted += o.admitted;
    successes += o.successes;
    failures += o.failures;
    ignored += o.ignored;
    rejections += o.rejections;
  }
};

class TotalsListener : public circuit::Listener {
 public:
  void before_call(std::string_view) override { before.fetch_add(1); }
  void success(std::string_view) override { successes.fetch_add(1); }
  void failure(std::string_view) override { failures.fetch_add(1); }
  void rejected(std::string_view) override { rejections.fetch_add(1); }
  std::atomic<std::uint64_t> before{0}, successes{0}, failures{0}, rejections{0};
};

bool ValidState(State s) {
  switch (s) {
    case State::kClosed:
    case State::kOpen:
    case State::kHalfOpen:
    case State::kForcedOpen:
    case State::kDisabled:
      return true;
  }
  return false;
}

// Contexts handed from the thread that admitted them to another one.
class Mailbox {
 public:
  void Put(int peer, Context ctx) {
    std::lock_guard<std::mutex> lock(mu_);
    items_.emplace_back(peer, std::move(ctx));
  }
  std::optional<std::pair<int, Context>> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    if (items_.empty()) return std::nullopt;
    std::pair<int, Context> item = std::move(items_.front());
    items_.pop_front();
    return item;
  }

 private:
  std::mutex mu_;
  std::deque<std::pair<int, Context>> items_;
};

// Settles `ctx` one of the ways a caller can, and records how.
void SettleRandomly(Context ctx, std::mt19937_64& rng, Counts& c) {
  switch (rng() % 7) {
    case 0:
      ctx.succeed();
      ++c.successes;
      break;
    case 1:
      ctx.fail();
      ++c.failures;
      break;
    case 2:
      ctx.ignore();
      ++c.ignored;
      break;
    case 3: {
      Context gone = std::move(ctx);  // destructor, nothing escaping: success
      ++c.successes;
      break;
    }
    case 4:
      try {
        Context inside = std::move(ctx);
        throw std::runtime_error("escapes");  // destructor sees it: failure
      } catch (const std::runtime_error&) {
      }
      ++c.failures;
      break;
    case 5:
      ctx.fail(std::make_exception_ptr(Ignorable{}));
      ++c.ignored;
      break;
    default:
      ctx.settle(absl::DeadlineExceededError("slow"));
      ++c.failures;
      break;
  }
}

circuit::BreakerOptions RandomOptions(std::mt19937_64& rng) {
  circuit::BreakerOptions o;
  o.max_failures = static_cast<int>(rng() % 4);
  o.time_unit = absl::Milliseconds(200 + rng() % 2000);
  o.reset_timeout = absl::Milliseconds(rng() % 500);
  o.half_open_max_calls = 1 + static_cast<int>(rng() % 3);
  o.half_open_successes = 1 + static_cast<int>(rng() % 3);
  o.consecutive_failures = static_cast<int>(rng() % 3);
  if (rng() % 4 == 0) {
    o.failure_rate_threshold = 0.5;
    o.minimum_calls = 5;
  }
  if (rng() % 4 == 0) {
    o.backoff_multiplier = 2;
    o.jitter = 0.2;
  }
  return o;
}

// Random operations from several threads; at the end every count adds up.
void RunRandomOperations(int peers) {
  ManualClock clock;
  SetOptions options;
  options.clock = &clock;
  options.defaults.max_failures = 2;
  options.defaults.time_unit = absl::Seconds(1);
  options.defaults.reset_timeout = absl::Milliseconds(100);
  options.defaults.half_open_max_calls = 2;
  CircuitBreakerSet set(options);
  set.ignore_error<Ignorable>();
  auto listener = std::make_shared<TotalsListener>();
  set.add_listener(listener);

  std::vector<std::string> names;
  for (int i = 0; i < peers; ++i) names.push_back(absl::StrCat("peer-", i));
  Mailbox mailbox;
  std::vector<std::vector<Counts>> counts(kThreads, std::vector<Counts>(peers));
  std::atomic<bool> stop{false};
  std::atomic<int> bad_snapshots{0};
  const int ops = 20000 * Scale();

  std::thread ticker([&] {
    std::mt19937_64 rng(99);
    while (!stop.load()) {
      clock.advance(absl::Milliseconds(rng() % 50));
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(1000 + t);
      std::vector<Counts>& mine = counts[t];
      std::vector<PeerHandle> handles(peers);
      for (int i = 0; i < ops; ++i) {
        const int p = static_cast<int>(rng() % peers);
        const std::string& peer = names[p];
        Counts& c = mine[p];
        const int r = static_cast<int>(rng() % 100);
        if (r < 25) {
          try {
            Context ctx = set.context(peer);
            ++c.admitted;
            if (rng() % 5 == 0) {
              mailbox.Put(p, std::move(ctx));
            } else {
              SettleRandomly(std::move(ctx), rng, c);
            }
          } catch (const CircuitOpenError&) {
            ++c.rejections;
          }
        } else if (r < 40) {
          absl::StatusOr<Context> ctx = set.try_context(peer);
          if (ctx.ok()) {
            ++c.admitted;
            SettleRandomly(*std::move(ctx), rng, c);
          } else {
            ++c.rejections;
          }
        } else if (r < 50) {
          if (!handles[p]) handles[p] = set.handle(peer);
          try {
            Context ctx = handles[p].context();
            ++c.admitted;
            SettleRandomly(std::move(ctx), rng, c);
          } catch (const CircuitOpenError&) {
            ++c.rejections;
          }
        } else if (r < 62) {
          bool ran = false;
          switch (rng() % 4) {
            case 0:
              try {
                set.call(peer, [&] {
                  ran = true;
                  throw std::runtime_error("x");
                });
              } catch (const CircuitOpenError&) {
              } catch (const std::runtime_error&) {
              }
              if (ran) ++c.failures;
              break;
            case 1:
              try {
                set.call(peer, [&] {
                  ran = true;
                  throw Ignorable{};
                });
              } catch (const CircuitOpenError&) {
              } catch (const Ignorable&) {
              }
              if (ran) ++c.ignored;
              break;
            case 2: {
              absl::Status s = set.call(peer, [&] {
                ran = true;
                return absl::NotFoundError("caller's mistake");
              });
              (void)s;
              if (ran) ++c.successes;
              break;
            }
            default: {
              int v = set.call(
                  peer, [&] { ran = true; return 1; }, [] { return 0; });
              (void)v;
              if (ran) ++c.successes;
              break;
            }
          }
          if (ran) {
            ++c.admitted;
          } else {
            ++c.rejections;
          }
        } else if (r < 74) {
          if (auto item = mailbox.Take()) {
            SettleRandomly(std::move(item->second), rng, mine[item->first]);
          }
        } else if (r < 80) {
          if (std::optional<PeerSnapshot> s = set.snapshot(peer)) {
            if (s->calls != s->successes + s->failures + s->ignored ||
                !ValidState(s->state) || s->probes_in_flight < 0) {
              bad_snapshots.fetch_add(1);
            }
          }
        } else if (r < 82) {
          switch (rng() % 6) {
            case 0: set.open(peer); break;
            case 1: set.half_open(peer); break;
            case 2: set.force_open(peer); break;
            case 3: set.disable(peer); break;
            default: set.close(peer); break;
          }
        } else if (r < 83) {
          set.configure(peer, RandomOptions(rng));
        } else if (r < 84 && peers < 100) {
          for (const PeerSnapshot& s : set.snapshot()) {
            if (!ValidState(s.state)) bad_snapshots.fetch_add(1);
          }
        } else {
          if (!ValidState(set.state(peer))) bad_snapshots.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  stop.store(true);
  ticker.join();
  // Settle what is still in the mailbox (on this thread).
  std::mt19937_64 rng(5);
  while (auto item = mailbox.Take()) {
    SettleRandomly(std::move(item->second), rng, counts[0][item->first]);
  }

  BOOST_TEST(bad_snapshots.load() == 0);
  Counts total;
  int mismatches = 0;
  for (int p = 0; p < peers; ++p) {
    Counts want;
    for (int t = 0; t < kThreads; ++t) want.Add(counts[t][p]);
    total.Add(want);
    std::optional<PeerSnapshot> s = set.snapshot(names[p]);
    if (!s) {
      if (want.admitted + want.rejections != 0) ++mismatches;
      continue;
    }
    if (s->successes != want.successes || s->failures != want.failures ||
        s->ignored != want.ignored || s->rejections != want.rejections ||
        s->calls != want.admitted || s->probes_in_flight != 0) {
      if (++mismatches <= 5) {
        BOOST_ERROR(absl::StrCat(names[p], ": snapshot (s/f/i/r/calls/probes) ",
                                 s->successes, "/", s->failures, "/", s->ignored, "/",
                                 s->rejections, "/", s->calls, "/", s->probes_in_flight,
                                 ", threads did ", want.successes, "/", want.failures,
                                 "/", want.ignored, "/", want.rejections, "/",
                                 want.admitted, "/0"));
      }
    }
  }
  BOOST_TEST(mismatches == 0);
  BOOST_TEST(listener->before.load() == total.admitted);
  BOOST_TEST(listener->successes.load() == total.successes);
  BOOST_TEST(listener->failures.load() == total.failures);
  BOOST_TEST(listener->rejections.load() == total.rejections);
  BOOST_TEST(total.admitted == total.successes + total.failures + total.ignored);
  BOOST_TEST(set.size() == static_cast<std::size_t>(peers));
  BOOST_TEST_MESSAGE("stress: " << peers << " peers, " << total.admitted
                                << " admitted, " << total.rejections << " rejected");
}

// Probes hammered from several threads while the breaker stays half-open
// (outcomes are ignored, or successes short of half_open_successes): the
// number in flight, counted from outside, never exceeds the limit.
void RunProbeLimit(int limit) {
  ManualClock clock;
  SetOptions options;
  options.clock = &clock;
  options.defaults.half_open_max_calls = limit;
  options.defaults.half_open_successes = 1 << 30;  // never closes
  CircuitBreakerSet set(options);
  set.half_open("p");
  PeerHandle handle = set.handle("p");

  std::atomic<int> in_flight{0};
  std::atomic<int> most{0};
  std::atomic<long> admitted{0};
  const int attempts = 30000 * Scale();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      for (int i = 0; i < attempts; ++i) {
        absl::StatusOr<Context> ctx =
            rng() % 2 ? set.try_context("p") : handle.try_context();
        if (!ctx.ok()) continue;
        admitted.fetch_add(1);
        // Counted after admission and uncounted before settling: never more
        // than the breaker's own count.
        int now = in_flight.fetch_add(1) + 1;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        if (rng() % 8 == 0) std::this_thread::yield();
        in_flight.fetch_sub(1);
        if (rng() % 2) {
          ctx->ignore();
        } else {
          ctx->succeed();
        }
      }
    });
  }
  for (auto& th : threads) th.join();

  BOOST_TEST(most.load() <= limit);
  BOOST_TEST(most.load() >= 1);
  BOOST_TEST(admitted.load() > 0);
  BOOST_TEST(set.state("p") == State::kHalfOpen);
  BOOST_TEST(set.snapshot("p")->probes_in_flight == 0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(StressTest, *boost::unit_test::label("stress"))

BOOST_AUTO_TEST_CASE(CountsAddUpOnFewPeers) { RunRandomOperations(4); }

BOOST_AUTO_TEST_CASE(CountsAddUpOnManyPeers) { RunRandomOperations(2000); }

BOOST_AUTO_TEST_CASE(OneProbeAtATime) { RunProbeLimit(1); }

BOOST_AUTO_TEST_CASE(AtMostThreeProbesAtATime) { RunProbeLimit(3); }

// While open, nothing is admitted before the deadline, whatever the racing;
// at the deadline exactly half_open_max_calls callers get in.
BOOST_AUTO_TEST_CASE(NothingIsAdmittedWhileOpenBeforeTheDeadline) {
  ManualClock clock;
  SetOptions options;
  options.clock = &clock;
  options.defaults.reset_timeout = absl::Seconds(10);
  options.defaults.half_open_max_calls = 3;
  CircuitBreakerSet set(options);
  set.open("p");
  auto listener = std::make_shared<TotalsListener>();
  set.add_listener(listener);

  std::atomic<long> admitted_early{0};
  std::atomic<long> wrong_retry{0};
  std::atomic<int> probes_held{0};
  std::barrier sync(kThreads + 1);
  const int attempts = 5000 * Scale();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      // Phase 1: just before the deadline (the clock is moved between phases).
      for (int round = 0; round < 2; ++round) {
        sync.arrive_and_wait();
        for (int i = 0; i < attempts; ++i) {
          try {
            Context ctx = set.context("p");
            admitted_early.fetch_add(1);
          } catch (const CircuitOpenError& e) {
            const absl::Duration want =
                round == 0 ? absl::Seconds(10) : absl::Nanoseconds(1);
            if (e.retry_after() != want) wrong_retry.fetch_add(1);
          }
        }
        sync.arrive_and_wait();
      }
      // Phase 2: at the deadline everyone races; probes are held.
      sync.arrive_and_wait();
      std::vector<Context> held;
      for (int i = 0; i < 200; ++i) {
        absl::StatusOr<Context> ctx = set.try_context("p");
        if (ctx.ok()) held.push_back(*std::move(ctx));
      }
      probes_held.fetch_add(static_cast<int>(held.size()));
      sync.arrive_and_wait();  // everyone has counted
      for (Context& c : held) c.ignore();
    });
  }
  sync.arrive_and_wait();  // round 0 at t = opened
  sync.arrive_and_wait();
  clock.advance(absl::Seconds(10) - absl::Nanoseconds(1));
  sync.arrive_and_wait();  // round 1 at the deadline - 1ns
  sync.arrive_and_wait();
  clock.advance(absl::Nanoseconds(1));
  sync.arrive_and_wait();  // phase 2 at the deadline
  sync.arrive_and_wait();
  for (auto& th : threads) th.join();

  BOOST_TEST(admitted_early.load() == 0);
  BOOST_TEST(wrong_retry.load() == 0);
  BOOST_TEST(probes_held.load() == 3);
  BOOST_TEST(set.snapshot("p")->rejections ==
             static_cast<std::uint64_t>(2 * kThreads * attempts + kThreads * 200 - 3));
  BOOST_TEST(listener->before.load() == 3u);
  BOOST_TEST(set.state("p") == State::kHalfOpen);
}

// Many new peers under a small max_peers while other threads hold handles
// and contexts of peers that are being evicted around them.
BOOST_AUTO_TEST_CASE(EvictionWithHandlesAndContextsHeld) {
  ManualClock clock;
  SetOptions options;
  options.clock = &clock;
  options.max_peers = 64;  // one failure never opens (max_failures = 3)
  CircuitBreakerSet set(options);

  constexpr int kHandled = 16;
  std::vector<PeerHandle> handles;
  for (int i = 0; i < kHandled; ++i) handles.push_back(set.handle(absl::StrCat("held-", i)));
  set.open("sick");  // open peers are never evicted

  std::vector<std::vector<Counts>> counts(kThreads, std::vector<Counts>(kHandled));
  std::atomic<int> bad{0};
  std::atomic<std::size_t> biggest{0};
  const int ops = 20000 * Scale();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(77 + t);
      std::vector<Context> kept;  // contexts of churned peers, settled later
      for (int i = 0; i < ops; ++i) {
        const int r = static_cast<int>(rng() % 100);
        if (r < 50) {
          // A fresh peer: forces evictions.
          std::string peer = absl::StrCat("t", t, "-", i);
          absl::StatusOr<Context> ctx = set.try_context(peer);
          if (!ctx.ok()) {
            bad.fetch_add(1);
            continue;
          }
          if (rng() % 4 == 0 && kept.size() < 64) {
            kept.push_back(*std::move(ctx));
          } else {
            ctx->succeed();
          }
        } else if (r < 60 && !kept.empty()) {
          // Settle a context whose peer has probably been evicted by now.
          std::size_t k = rng() % kept.size();
          if (kept[k].peer().empty()) bad.fetch_add(1);
          if (rng() % 2) {
            kept[k].fail();
          } else {
            kept[k].succeed();
          }
          kept.erase(kept.begin() + static_cast<long>(k));
        } else if (r < 90) {
          const int h = static_cast<int>(rng() % kHandled);
          PeerHandle copy = handles[h];  // copies race with eviction too
          if (copy.peer() != absl::StrCat("held-", h)) bad.fetch_add(1);
          try {
            Context ctx = copy.context();
            ++counts[t][h].admitted;
            ctx.succeed();
            ++counts[t][h].successes;
          } catch (const CircuitOpenError&) {
            ++counts[t][h].rejections;
          }
        } else if (r < 95) {
          std::size_t n = set.size();
          std::size_t seen = biggest.load();
          while (n > seen && !biggest.compare_exchange_weak(seen, n)) {
          }
        } else {
          if (set.state("sick") != State::kOpen) bad.fetch_add(1);
        }
      }
      for (Context& c : kept) c.ignore();
    });
  }
  for (auto& th : threads) th.join();

  BOOST_TEST(bad.load() == 0);
  // Handled peers were never dropped: their counts are exact.
  for (int h = 0; h < kHandled; ++h) {
    Counts want;
    for (int t = 0; t < kThreads; ++t) want.Add(counts[t][h]);
    std::optional<PeerSnapshot> s = set.snapshot(absl::StrCat("held-", h));
    BOOST_REQUIRE(s.has_value());
    BOOST_TEST(s->successes == want.successes);
    BOOST_TEST(s->rejections == want.rejections);
  }
  BOOST_TEST(set.snapshot("sick").has_value());
  // Bounded: the cap, plus what may never be evicted, plus one insert in
  // flight per thread.
  BOOST_TEST(set.size() <= 64u + kHandled + 1 + kThreads);
  BOOST_TEST(biggest.load() <= 64u + kHandled + 1 + kThreads);
  handles.clear();
}

BOOST_AUTO_TEST_SUITE_END()
