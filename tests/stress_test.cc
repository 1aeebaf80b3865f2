// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Concurrent stress with invariants (suite 'stress'). Nothing here is timed:
// each test runs a fixed amount of work on a `ManualClock` and then checks
// what must hold whatever the interleaving.
//
//   - Counts add up exactly: per peer, the snapshot's successes, failures,
//     ignored and rejections equal what the threads did, and so do the
//     listener's totals (contexts are also moved to and settled on other
//     threads, as async completions do, and from thread_local destructors
//     at thread exit).
//   - No more than `half_open_max_calls` probes are ever in flight, and
//     exactly that many racing callers get in at the deadline.
//   - Nothing is admitted while open before the deadline.
//   - Transitions describe one path per peer: from closed to the state the
//     breaker is in now, or back to closed for a peer the set dropped
//     (nothing is reported for a breaker the set no longer tracks).
//   - Eviction under a small `max_peers` while handles and contexts are held:
//     handled peers are never dropped, `size()` stays within the cap plus
//     what may not be evicted, and retired memory is freed.
//
// CIRCUIT_STRESS_SCALE (default 1) multiplies the amount of work. The whole
// suite also runs under ThreadSanitizer and AddressSanitizer in CI.

#include <algorithm>
#include <array>
#include <atomic>
#include <barrier>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <latch>
#include <map>
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

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "circuit/circuit.h"
#include "epoch.h"
#include "test_util.h"

namespace bdata = boost::unit_test::data;
namespace utf = boost::unit_test;

namespace circuit::testing {
namespace {

struct Ignorable {};  // registered with ignore_error()

int Scale() {
  const char* v = std::getenv("CIRCUIT_STRESS_SCALE");
  int s = v == nullptr ? 1 : std::atoi(v);
  return s < 1 ? 1 : s;
}

constexpr int kThreads = 4;

std::uint64_t Total(const std::atomic<long>& n) {
  return static_cast<std::uint64_t>(n.load());
}

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

// What one thread did to one peer.
struct Counts {
  std::uint64_t admitted = 0, successes = 0, failures = 0, ignored = 0,
                rejections = 0;
  std::uint64_t bad = 0;  // inconsistent snapshots seen
  void Add(const Counts& o) {
    admitted += o.admitted;
    successes += o.successes;
    failures += o.failures;
    ignored += o.ignored;
    rejections += o.rejections;
    bad += o.bad;
  }
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

// One manual control of `peer`, chosen by `rng` (close twice as often as
// each of the others).
void RandomControl(CircuitBreakerSet& set, const std::string& peer,
                   std::mt19937_64& rng) {
  switch (rng() % 6) {
    case 0: set.open(peer); break;
    case 1: set.half_open(peer); break;
    case 2: set.force_open(peer); break;
    case 3: set.disable(peer); break;
    default: set.close(peer); break;
  }
}

// The churned sets' defaults: two failures within 1 s open a peer for
// 100 ms, and two probes may run at once.
SetOptions ChurnOptions(const Clock* clock) {
  SetOptions options = ManualOptions(clock, 2, absl::Seconds(1), absl::Milliseconds(100));
  options.defaults.half_open_max_calls = 2;
  return options;
}

BreakerOptions RandomOptions(std::mt19937_64& rng) {
  BreakerOptions o;
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
  CircuitBreakerSet set(ChurnOptions(&clock));
  set.ignore_error<Ignorable>();
  auto listener = std::make_shared<CountingListener>();
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
          RandomControl(set, peer, rng);
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
  BOOST_TEST(Total(listener->before_calls) == total.admitted);
  BOOST_TEST(Total(listener->successes) == total.successes);
  BOOST_TEST(Total(listener->failures) == total.failures);
  BOOST_TEST(Total(listener->rejections) == total.rejections);
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

// Keeps, per peer, how many reported transitions entered and left each
// state. Concurrent transitions may reach listeners in any order, but at a
// quiescent moment the counts of a peer must describe one path from closed
// to the state its breaker is in now (closed for a peer the set dropped: only
// closed peers are dropped, and a new breaker starts closed).
class TransitionLedger : public Listener {
 public:
  using Degrees = std::array<long, 5>;  // entered - left, per State value

  void state_change(std::string_view peer, State from, State to) override {
    std::lock_guard<std::mutex> lock(mu_);
    Degrees& d = degrees_[std::string(peer)];
    --d[static_cast<int>(from)];
    ++d[static_cast<int>(to)];
  }

  // Peers whose transitions do not lead from closed to `now(peer)`.
  template <class Now>
  std::vector<std::string> Broken(Now now) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> broken;
    for (const auto& [peer, d] : degrees_) {
      Degrees want{};
      --want[static_cast<int>(State::kClosed)];
      ++want[static_cast<int>(now(peer))];
      if (d != want) broken.push_back(peer);
    }
    return broken;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, Degrees> degrees_;
};

// The state word's state (an open breaker past its deadline reads half-open
// in snapshots, but no transition has happened yet); closed when dropped.
State RawState(const CircuitBreakerSet& set, const std::string& peer) {
  std::optional<PeerSnapshot> s = set.snapshot(peer);
  if (!s) return State::kClosed;
  if (s->open_until != absl::InfinitePast()) return State::kOpen;
  return s->state;
}

// Settles the context it holds when its thread exits. Constructed before the
// thread's first call into the library, so it is destroyed after everything
// the library keeps per thread.
struct ExitSettler {
  std::optional<Context> ctx;
};
thread_local ExitSettler tl_exit_settler;

// One round of random operations on fresh threads: admissions by every
// form, settles on this thread, on another thread and at thread exit,
// manual control, configure() and listeners added while calls run. Adds
// what the threads did to `peer_counts` (indexed like `names`).
void RunChaosRound(CircuitBreakerSet& set, ManualClock& clock,
                   const std::vector<std::string>& names,
                   std::vector<PeerHandle>& handles,
                   std::vector<Counts>& peer_counts, std::uint64_t seed) {
  const int peers = static_cast<int>(names.size());
  const int ops = 3000 * Scale();
  Mailbox mailbox;
  std::vector<std::vector<Counts>> counts(kThreads, std::vector<Counts>(peers));
  std::atomic<bool> stop{false};
  std::thread ticker([&] {
    std::mt19937_64 rng(seed);
    while (!stop.load()) {
      clock.advance(absl::Milliseconds(rng() % 40));
      std::this_thread::yield();
    }
  });
  RunTogether(kThreads, [&](int t) {
    (void)tl_exit_settler;  // constructed before any library call
    std::mt19937_64 rng(seed * 31 + t);
    std::vector<Counts>& mine = counts[t];
    for (int i = 0; i < ops; ++i) {
      // Handled peers (the first handles.size()) are picked one time in 4.
      const int p = rng() % 4 == 0
                        ? static_cast<int>(rng() % handles.size())
                        : static_cast<int>(rng() % peers);
      const std::string& peer = names[p];
      Counts& c = mine[p];
      const int r = static_cast<int>(rng() % 100);
      if (r < 30) {
        absl::StatusOr<Context> ctx =
            p < static_cast<int>(handles.size()) && rng() % 2 == 0
                ? handles[p].try_context()
                : set.try_context(peer);
        if (!ctx.ok()) {
          ++c.rejections;
          continue;
        }
        ++c.admitted;
        if (rng() % 6 == 0) {
          mailbox.Put(p, *std::move(ctx));  // settled by another thread
        } else {
          SettleRandomly(*std::move(ctx), rng, c);
        }
      } else if (r < 45) {
        try {
          Context ctx = set.context(peer);
          ++c.admitted;
          SettleRandomly(std::move(ctx), rng, c);
        } catch (const CircuitOpenError&) {
          ++c.rejections;
        }
      } else if (r < 55) {
        // A call held across others' admissions: its peer may be evicted.
        try {
          Context held = set.context(peer);
          ++c.admitted;
          for (int k = 0; k < 3; ++k) {
            const int q = static_cast<int>(rng() % peers);
            absl::StatusOr<Context> other = set.try_context(names[q]);
            if (other.ok()) {
              ++mine[q].admitted;
              SettleRandomly(*std::move(other), rng, mine[q]);
            } else {
              ++mine[q].rejections;
            }
          }
          SettleRandomly(std::move(held), rng, c);
        } catch (const CircuitOpenError&) {
          ++c.rejections;
        }
      } else if (r < 70) {
        if (auto item = mailbox.Take()) {
          SettleRandomly(std::move(item->second), rng, mine[item->first]);
        }
      } else if (r < 73) {
        RandomControl(set, peer, rng);
      } else if (r < 75) {
        BreakerOptions o = RandomOptions(rng);
        if (rng() % 3 == 0) {
          o.slow_call_duration = absl::Milliseconds(50);
          o.slow_call_rate_threshold = 0.5;
          o.minimum_calls = 5;
        }
        set.configure(peer, o);
      } else if (r < 76 && i % 500 == 0) {
        set.add_listener(std::make_shared<CountingListener>());
      } else if (r < 90) {
        if (std::optional<PeerSnapshot> s = set.snapshot(peer)) {
          if (s->calls != s->successes + s->failures + s->ignored) {
            ++c.bad;
          }
        }
      } else {
        (void)set.size();
        (void)set.state(peer);
      }
    }
    // The thread exits holding one call: settled (a success) at thread exit.
    const int p = static_cast<int>(rng() % peers);
    absl::StatusOr<Context> last = set.try_context(names[p]);
    if (last.ok()) {
      ++mine[p].admitted;
      ++mine[p].successes;
      tl_exit_settler.ctx.emplace(*std::move(last));
    } else {
      ++mine[p].rejections;
    }
  });
  stop.store(true);
  ticker.join();
  std::mt19937_64 rng(seed + 7);
  while (auto item = mailbox.Take()) {
    SettleRandomly(std::move(item->second), rng, counts[0][item->first]);
  }
  for (int t = 0; t < kThreads; ++t) {
    for (int p = 0; p < peers; ++p) peer_counts[p].Add(counts[t][p]);
  }
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
  auto listener = std::make_shared<CountingListener>();
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
  BOOST_TEST(Total(listener->before_calls) == 3u);
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

// Rounds of random operations on fresh threads (so per-thread state is
// released and reused), with eviction (max_peers, and an idle timeout in
// the second case), handles, configure(), manual control, listeners added
// while calls run and contexts settled at thread exit. After every round:
// the listener's totals and the handled peers' counts are exact, every
// peer's transitions form one path, size() is within the cap plus what may
// not be evicted, and retired memory is freed.
BOOST_DATA_TEST_CASE(RandomRoundsKeepEveryInvariant,
                     bdata::make({absl::ZeroDuration(), absl::Seconds(2)}),
                     idle_timeout) {
  constexpr std::size_t kCap = 32;
  constexpr int kPeers = 200;
  constexpr int kHandled = 8;
  constexpr int kRounds = 8;
  ManualClock clock;
  SetOptions options = ChurnOptions(&clock);
  options.max_peers = kCap;
  options.idle_timeout = idle_timeout;
  CircuitBreakerSet set(options);
  set.ignore_error<Ignorable>();
  auto totals = std::make_shared<CountingListener>();
  auto ledger = std::make_shared<TransitionLedger>();
  set.add_listener(totals);
  set.add_listener(ledger);

  std::vector<std::string> names;
  for (int i = 0; i < kPeers; ++i) names.push_back(absl::StrCat("peer-", i));
  std::vector<PeerHandle> handles;
  for (int i = 0; i < kHandled; ++i) handles.push_back(set.handle(names[i]));
  std::vector<Counts> counts(kPeers);

  for (int round = 0; round < kRounds; ++round) {
    BOOST_TEST_CONTEXT("round " << round) {
      RunChaosRound(set, clock, names, handles, counts, 1 + round);
      Counts total;
      for (const Counts& c : counts) total.Add(c);
      BOOST_TEST(total.bad == 0u);
      BOOST_TEST(Total(totals->before_calls) == total.admitted);
      BOOST_TEST(Total(totals->successes) == total.successes);
      BOOST_TEST(Total(totals->failures) == total.failures);
      BOOST_TEST(Total(totals->rejections) == total.rejections);
      for (int h = 0; h < kHandled; ++h) {
        std::optional<PeerSnapshot> s = set.snapshot(names[h]);
        BOOST_REQUIRE(s.has_value());
        BOOST_TEST(s->successes == counts[h].successes);
        BOOST_TEST(s->failures == counts[h].failures);
        BOOST_TEST(s->ignored == counts[h].ignored);
        BOOST_TEST(s->rejections == counts[h].rejections);
        BOOST_TEST(s->probes_in_flight == 0);
      }
      std::vector<std::string> broken = ledger->Broken(
          [&](const std::string& peer) { return RawState(set, peer); });
      BOOST_TEST(broken.empty(), "transitions of " << broken.size()
                                 << " peers do not form a path, e.g. "
                                 << (broken.empty() ? "" : broken[0]));
      // A new peer makes room: only peers that may not be evicted (not
      // closed, or handled) stay above the cap.
      set.context(absl::StrCat("fresh-", round)).succeed();
      totals->before_calls.fetch_sub(1);  // not one of the threads' calls
      totals->successes.fetch_sub(1);
      std::size_t pinned = 0;
      for (const PeerSnapshot& s : set.snapshot()) {
        bool handled = false;
        for (int h = 0; h < kHandled; ++h) handled |= s.peer == names[h];
        if (handled || RawState(set, s.peer) != State::kClosed) ++pinned;
      }
      BOOST_TEST(set.size() <= std::max(kCap, pinned + 1));
      // Every call is settled: what was retired can be freed now.
      for (int i = 0; i < 3; ++i) internal::Epoch::TryReclaim();
      BOOST_TEST(internal::Epoch::Pending() == 0u);
    }
  }
  std::size_t records = 0;
  for (auto* r = internal::Epoch::Records(); r != nullptr; r = r->next) {
    ++records;
  }
  // Threads come and go by the round; their records are reused.
  BOOST_TEST(records <= static_cast<std::size_t>(2 * kThreads + 4));
  handles.clear();
}

BOOST_AUTO_TEST_SUITE_END()

// Many threads on one shared set (unlimited window rule) with a counting
// listener; the clock moves only between phases.
namespace {

struct StressFixture {
  StressFixture() { set->add_listener(counts); }

  ManualClock clock;
  std::unique_ptr<CircuitBreakerSet> set = std::make_unique<CircuitBreakerSet>(
      ManualOptions(&clock, kUnlimited));
  std::shared_ptr<CountingListener> counts = std::make_shared<CountingListener>();
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(SharedSetTest, StressFixture, *utf::label("stress"))

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
  for (const PeerSnapshot& s : set->snapshot()) {
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

}  // namespace circuit::testing
