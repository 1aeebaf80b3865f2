// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Settling at thread exit (src/epoch.h, "Thread records"): a context may be
// settled from a thread_local destructor, including one of an object made
// before the thread's first call into the library (so destroyed after
// everything the library keeps per thread), or from a pthread key
// destructor. Every such settle counts exactly once, a thread's record is
// never shared with another thread while its owner still runs, and the
// epoch drains afterwards. Threads here start and end by the thousand.

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "circuit/breaker_set.h"
#include "circuit/context.h"
#include "epoch.h"
#include "test_util.h"

namespace circuit::testing {
using internal::Epoch;
using internal::ThreadRecord;

namespace {

// Settles contexts when its thread exits. Touched first thing in a thread,
// it is constructed before the library's first call there, so its
// destructor runs after anything thread_local the library made.
struct LateSettler {
  std::optional<Context> held;          // settled (a success) first
  std::function<void()> then;           // then this runs
  ~LateSettler() {
    held.reset();
    if (then) then();
  }
};

thread_local LateSettler tl_late;

// Constructs this thread's LateSettler before anything else.
void TouchLateSettler() { tl_late.held.reset(); }

// Outstanding pins per parity over every record: zero when no context is
// held anywhere.
bool PinsBalanced() {
  std::uint64_t pins[2] = {0, 0}, unpins[2] = {0, 0};
  for (ThreadRecord* r = Epoch::Records(); r != nullptr; r = r->next) {
    for (int p = 0; p < 2; ++p) {
      pins[p] += r->pins[p].load();
      unpins[p] += r->unpins[p].load();
    }
  }
  BOOST_TEST_MESSAGE("pins " << pins[0] << "/" << pins[1] << ", unpins "
                             << unpins[0] << "/" << unpins[1]);
  return pins[0] == unpins[0] && pins[1] == unpins[1];
}

std::size_t RecordsInUse() {
  std::size_t n = 0;
  for (ThreadRecord* r = Epoch::Records(); r != nullptr; r = r->next) {
    if (r->in_use.load()) ++n;
  }
  return n;
}

std::size_t RecordCount() {
  std::size_t n = 0;
  for (ThreadRecord* r = Epoch::Records(); r != nullptr; r = r->next) ++n;
  return n;
}

// Checks that nothing is pinned, then that the epoch drains. (With pins
// out of balance Barrier() would wait for ever, so it is not called.)
void CheckDrained() {
  BOOST_REQUIRE(PinsBalanced());
  circuit::SetOptions options;
  options.max_peers = 1;
  CircuitBreakerSet churn(options);
  for (int i = 0; i < 100; ++i) SucceedOnce(churn, "r" + std::to_string(i));
  BOOST_TEST(Epoch::Pending() > 0u);  // evicted entries were retired
  Epoch::Barrier();
  BOOST_TEST(Epoch::Pending() == 0u);
}

std::uint64_t Successes(CircuitBreakerSet& set, std::string_view peer) {
  std::optional<circuit::PeerSnapshot> s = set.snapshot(peer);
  return s ? s->successes : 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ThreadExitTest)

BOOST_AUTO_TEST_CASE(ARecordIsNotHandedOnWhileItsThreadStillSettles) {
  // Deterministic: thread `a` settles from its late destructor, then starts
  // `b` from there and waits for it. `b` registers while `a` still runs,
  // so it must get a record of its own.
  CircuitBreakerSet set;
  ThreadRecord* late_record = nullptr;
  ThreadRecord* other_record = nullptr;
  std::thread a([&] {
    TouchLateSettler();
    tl_late.held.emplace(set.context("p"));
    tl_late.then = [&] {
      SucceedOnce(set, "p");
      late_record = Epoch::Record();
      std::thread b([&] {
        SucceedOnce(set, "p");
        other_record = Epoch::Record();
      });
      b.join();
      SucceedOnce(set, "p");
    };
  });
  a.join();
  BOOST_TEST(late_record != nullptr);
  BOOST_TEST(late_record != other_record);
  BOOST_TEST(Successes(set, "p") == 4u);
  CheckDrained();
}

BOOST_AUTO_TEST_CASE(LateSettlesAcrossThousandsOfShortThreadsCountExactly) {
  // Four threads at a time, 2,000 in all; each settles kCalls contexts while
  // it runs and as many (plus one it held) from its late destructor, when
  // the threads started after it may already be running.
  constexpr int kThreads = 2000;
  constexpr int kAtOnce = 4;
  constexpr int kCalls = 1000;
  CircuitBreakerSet set;
  PeerHandle hot = set.handle("hot");
  auto body = [&] {
    TouchLateSettler();
    tl_late.held.emplace(hot.context());
    tl_late.then = [&] {
      for (int i = 0; i < kCalls; ++i) hot.context().succeed();
    };
    for (int i = 0; i < kCalls; ++i) hot.context().succeed();
  };
  std::vector<std::thread> running;
  for (int started = 0; started < kThreads; ++started) {
    if (running.size() == kAtOnce) {
      running.front().join();
      running.erase(running.begin());
    }
    running.emplace_back(body);
  }
  for (std::thread& t : running) t.join();
  const std::uint64_t expected =
      static_cast<std::uint64_t>(kThreads) * (2 * kCalls + 1);
  BOOST_TEST(Successes(set, "hot") == expected);
  hot = PeerHandle();
  CheckDrained();
}

BOOST_AUTO_TEST_CASE(ContextsMovedIntoLateDestructorsOfOtherThreads) {
  // Contexts admitted on this thread are settled by other threads' late
  // destructors (pinned here, unpinned there).
  constexpr int kThreads = 1000;
  CircuitBreakerSet set;
  std::vector<std::thread> running;
  for (int started = 0; started < kThreads; ++started) {
    Context ctx = set.context("moved-" + std::to_string(started % 7));
    running.emplace_back([c = std::move(ctx)]() mutable {
      TouchLateSettler();
      tl_late.held.emplace(std::move(c));
    });
    if (running.size() == 3) {
      running.front().join();
      running.erase(running.begin());
    }
  }
  for (std::thread& t : running) t.join();
  std::uint64_t total = 0;
  for (int i = 0; i < 7; ++i) total += Successes(set, "moved-" + std::to_string(i));
  BOOST_TEST(total == static_cast<std::uint64_t>(kThreads));
  CheckDrained();
}

BOOST_AUTO_TEST_CASE(ACallFromAPthreadKeyDestructorRegistersAgain) {
  // A key made now runs its destructor after the library's (keys run in
  // the order they were made, and the library's was made by the first
  // thread to use it), so its call into the library comes after the
  // thread's record was given back: it must register again, and give that
  // record back too, on glibc's next round of key destructors.
  static CircuitBreakerSet* set = nullptr;
  CircuitBreakerSet owned;
  set = &owned;
  SucceedOnce(owned, "warm");  // the library's key exists before ours
  pthread_key_t key;
  BOOST_REQUIRE(pthread_key_create(&key, [](void* p) {
                  auto* calls = static_cast<std::atomic<int>*>(p);
                  SucceedOnce(*set, "from-key");
                  ++*calls;
                }) == 0);
  const std::size_t in_use_before = RecordsInUse();
  const std::size_t records_before = RecordCount();
  constexpr int kThreads = 500;
  std::atomic<int> calls{0};
  for (int i = 0; i < kThreads; i += 2) {
    auto body = [&] {
      pthread_setspecific(key, &calls);
      SucceedOnce(owned, "from-body");
    };
    std::thread t1(body), t2(body);
    t1.join();
    t2.join();
  }
  BOOST_TEST(calls.load() == kThreads);
  BOOST_TEST(Successes(owned, "from-key") == static_cast<std::uint64_t>(kThreads));
  BOOST_TEST(Successes(owned, "from-body") == static_cast<std::uint64_t>(kThreads));
  // Every record was given back: none leaked, none added past the two
  // threads that ran at once.
  BOOST_TEST(RecordsInUse() == in_use_before);
  BOOST_TEST(RecordCount() <= records_before + 2);
  pthread_key_delete(key);
  CheckDrained();
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace circuit::testing
