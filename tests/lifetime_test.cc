// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Lifetimes (DESIGN.md section 2): what the user hands to a set (listeners,
// options_for and what it captures, the clock, the store) is released by
// the time the set's destructor returns, never later on another thread,
// and nothing the set retired touches it afterwards. Meant to run under
// AddressSanitizer too: the objects below point at memory the test frees
// right after the set dies, so a late destructor or read is a
// heap-use-after-free there, and a failed check everywhere.
//
// Most cases hold a context of another set, on this thread or another one,
// while the set under test dies: a held context pins the process-wide
// reclamation epoch, so anything the dying set retired stays queued until
// that context is settled, and is then freed on whichever thread reclaims.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "circuit/breaker_set.h"
#include "circuit/clock.h"
#include "circuit/listener.h"
#include "circuit/options.h"
#include "circuit/state_store.h"
#include "epoch.h"
#include "test_util.h"

namespace circuit::testing {
using internal::Epoch;

namespace {

// Where a watched object was destroyed, for the checks below.
struct Death {
  std::atomic<bool> dead{false};
  std::atomic<bool> late{false};  // used after its owner said it was gone
  std::thread::id thread;
  std::mutex mu;

  void Record() {
    std::lock_guard<std::mutex> lock(mu);
    thread = std::this_thread::get_id();
    dead.store(true);
  }
  std::thread::id Thread() {
    std::lock_guard<std::mutex> lock(mu);
    return thread;
  }
};

// A listener whose destructor reads memory the test owns and frees as soon
// as the set is gone: under ASan a destructor that runs later is a
// heap-use-after-free; everywhere, `death` says where and when it ran.
class WatchedListener : public Listener {
 public:
  WatchedListener(Death* death, const std::string* name)
      : death_(death), name_(name) {}
  ~WatchedListener() override {
    volatile std::size_t n = name_->size();  // the read ASan checks
    (void)n;
    death_->Record();
  }
  void success(std::string_view) override { ++successes; }
  void failure(std::string_view) override { ++failures; }
  void state_change(std::string_view, State, State) override { ++changes; }

  std::atomic<long> successes{0};
  std::atomic<long> failures{0};
  std::atomic<long> changes{0};

 private:
  Death* death_;
  const std::string* name_;
};

// Records a failure of `peer` when a call is admitted (an open peer
// rejects it, which is fine here).
void FailIfAdmitted(CircuitBreakerSet& set, std::string_view peer) {
  absl::StatusOr<Context> ctx = set.try_context(peer);
  if (ctx.ok()) ctx->fail();
}

// A clock whose readings after `retire()` are recorded as late.
class WatchedClock : public Clock {
 public:
  absl::Time now() const override {
    if (retired_.load()) late_.store(true);
    return clock_.now();
  }
  void retire() { retired_.store(true); }
  bool read_late() const { return late_.load(); }
  ManualClock& manual() { return clock_; }

 private:
  ManualClock clock_;
  std::atomic<bool> retired_{false};
  mutable std::atomic<bool> late_{false};
};

// A StateStore that records how the set used it: one attach, one detach,
// and no call outside that span.
class FakeStore : public StateStore {
 public:
  explicit FakeStore(Death* death) : death_(death) {}
  ~FakeStore() override { death_->Record(); }

  void attach(StoreSink* sink, const BreakerOptions&) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (sink_ != nullptr) tally_.bad = true;
    sink_ = sink;
    ++tally_.attaches;
  }
  void detach(StoreSink* sink) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (sink != sink_) tally_.bad = true;
    sink_ = nullptr;
    ++tally_.detaches;
  }
  void record_failure(std::string_view, absl::Time) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (sink_ == nullptr) tally_.bad = true;
    ++tally_.failures;
  }
  void record_transition(std::string_view, State, State,
                         absl::Duration) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (sink_ == nullptr) tally_.bad = true;
    ++tally_.transitions;
  }
  bool healthy() const override { return true; }

  // Tells the set what "the fleet" decided, as a store's thread would.
  void Push(std::string_view peer, State state) {
    std::lock_guard<std::mutex> lock(mu_);
    if (sink_ != nullptr) {
      sink_->apply_remote(peer, state, absl::Seconds(5), ++epoch_);
    }
  }

  // What the set did to the store so far.
  struct Tally {
    bool bad = false;  // a call before attach or after detach, or a mismatch
    int attaches = 0;
    int detaches = 0;
    long failures = 0;
    long transitions = 0;
  };
  Tally tally() {
    std::lock_guard<std::mutex> lock(mu_);
    return tally_;
  }

 private:
  Death* death_;
  std::mutex mu_;
  StoreSink* sink_ = nullptr;
  Tally tally_;
  std::uint64_t epoch_ = 0;
};

// A thread that holds a context of its own long-lived set until told to
// let go, and meanwhile (when asked to churn) keeps adding peers to that
// set, which grows its table and so runs the reclaimer on this thread: a
// listener freed by it would be destroyed here, on the wrong thread.
class PinningThread {
 public:
  explicit PinningThread(bool churn) {
    thread_ = std::thread([this, churn] {
      std::optional<Context> held(set_.context("held"));
      pinned_.store(true);
      std::uint64_t i = 0;
      while (!stop_.load()) {
        if (churn) {
          SucceedOnce(set_, "churn-" + std::to_string(i++ % 4096));
        } else {
          std::this_thread::yield();
        }
      }
      held.reset();  // settles it: the pin goes
    });
    while (!pinned_.load()) std::this_thread::yield();
  }
  ~PinningThread() { Stop(); }

  void Stop() {
    if (!thread_.joinable()) return;
    stop_.store(true);
    thread_.join();
  }

 private:
  CircuitBreakerSet set_;
  std::atomic<bool> pinned_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(LifetimeTest)

BOOST_AUTO_TEST_CASE(ListenersAreReleasedByTheSetsDestructorWhileAPinIsHeld) {
  // This thread's context of another set pins the epoch, so nothing
  // retired from here on is freed before `held` is settled.
  CircuitBreakerSet other;
  Context held = other.context("held");

  std::weak_ptr<Listener> first, second;
  std::shared_ptr<CountingListener> kept = std::make_shared<CountingListener>();
  {
    CircuitBreakerSet set;
    auto a = std::make_shared<CountingListener>();
    auto b = std::make_shared<CountingListener>();
    first = a;
    second = b;
    set.add_listener(std::move(a));
    set.add_listener(std::move(b));  // replaces the list that held `a`
    set.add_listener(kept);
    SucceedOnce(set, "x");
    BOOST_TEST(kept->successes.load() == 1);
    BOOST_TEST(kept.use_count() == 2);
  }
  BOOST_TEST(first.expired());
  BOOST_TEST(second.expired());
  BOOST_TEST(kept.use_count() == 1);  // the set let go of what the user keeps
  held.succeed();
}

BOOST_AUTO_TEST_CASE(AListenerDiesInsideTheSetsDestructorNotOnAnotherThread) {
  // Another thread holds a context of its own set and keeps creating peers
  // there (its table grows, which runs the reclaimer on that thread).
  PinningThread pinning(/*churn=*/true);

  for (int round = 0; round < 20; ++round) {
    Death deaths[3];
    auto name = std::make_unique<std::string>("listener payload");
    {
      ManualClock clock;
      CircuitBreakerSet set(ManualOptions(&clock, /*max_failures=*/0));
      for (Death& d : deaths) {
        set.add_listener(std::make_shared<WatchedListener>(&d, name.get()));
        FailIfAdmitted(set, "p" + std::to_string(round));  // events reach them
      }
    }
    // The set's destructor has returned: every listener is gone, and it was
    // destroyed right here. What it read is freed now.
    for (Death& d : deaths) {
      BOOST_TEST(d.dead.load());
      BOOST_TEST((d.Thread() == std::this_thread::get_id()));
    }
    name.reset();
  }
  pinning.Stop();
  Epoch::Barrier();  // whatever was retired is freed here, after the fact
}

BOOST_AUTO_TEST_CASE(OptionsForAndWhatItCapturesAreReleasedWithTheSet) {
  PinningThread pinning(/*churn=*/true);
  CircuitBreakerSet other;
  Context held = other.context("held");  // and a pin on this thread too

  auto captured = std::make_shared<std::string>("per-peer policy source");
  std::weak_ptr<std::string> watch = captured;
  std::atomic<int> asked{0};
  {
    SetOptions options;
    options.max_peers = 4;  // evictions retire entries made with options_for
    options.options_for = [captured = std::move(captured),
                           &asked](std::string_view peer) {
      ++asked;
      BreakerOptions b;
      b.max_failures = peer.size() % 2 == 0 ? 1 : 2;
      (void)captured->size();
      return b;
    };
    CircuitBreakerSet set(std::move(options));
    for (int i = 0; i < 100; ++i) SucceedOnce(set, "peer-" + std::to_string(i));
    BOOST_TEST(!watch.expired());
  }
  BOOST_TEST(watch.expired());
  BOOST_TEST(asked.load() == 100);
  held.succeed();
  pinning.Stop();
  Epoch::Barrier();
}

BOOST_AUTO_TEST_CASE(TheClockIsNotReadOnceTheSetIsGone) {
  // Retired entries of the dying set are freed only after both pins go;
  // nothing about that may read the set's clock.
  PinningThread pinning(/*churn=*/false);
  CircuitBreakerSet other;
  std::optional<Context> held(other.context("held"));

  auto clock = std::make_unique<WatchedClock>();
  {
    SetOptions options = ManualOptions(clock.get(), /*max_failures=*/0);
    options.max_peers = 2;
    options.idle_timeout = absl::Seconds(30);
    CircuitBreakerSet set(options);
    for (int i = 0; i < 200; ++i) {
      std::string peer = "peer-" + std::to_string(i);
      if (i % 3 == 0) {
        FailOnce(set, peer);  // open: read the clock, kept past the cap
        set.close(peer);
      } else {
        SucceedOnce(set, peer);
      }
      clock->manual().advance(absl::Seconds(1));
    }
    BOOST_TEST(Epoch::Pending() > 0u);  // evicted entries wait for the pins
  }
  clock->retire();
  held.reset();
  pinning.Stop();
  Epoch::Barrier();  // frees the dead set's entries
  BOOST_TEST(!clock->read_late());
  BOOST_TEST(Epoch::Pending() == 0u);
}

BOOST_AUTO_TEST_CASE(TheStoreIsDetachedAndReleasedWithTheSet) {
  PinningThread pinning(/*churn=*/true);
  Death death;
  std::weak_ptr<FakeStore> watch;
  std::shared_ptr<FakeStore> store_view;  // what the test reads afterwards
  {
    auto store = std::make_shared<FakeStore>(&death);
    watch = store;
    ManualClock clock;
    SetOptions options = ManualOptions(&clock, /*max_failures=*/0);
    options.store = store;
    CircuitBreakerSet set(std::move(options));
    BOOST_TEST(store->tally().attaches == 1);
    FailOnce(set, "a");  // a failure and a trip reach the store
    store->Push("b", State::kOpen);
    BOOST_TEST((set.state("b") == State::kOpen));
    BOOST_TEST(store->tally().failures == 1);
    BOOST_TEST(store->tally().transitions == 1);
    store.reset();  // the set holds the only reference now
    BOOST_TEST(!watch.expired());
  }
  BOOST_TEST(watch.expired());
  BOOST_TEST(death.dead.load());
  BOOST_TEST((death.Thread() == std::this_thread::get_id()));
  pinning.Stop();
}

BOOST_AUTO_TEST_CASE(TheStoreSeesNoCallAfterDetach) {
  Death death;
  auto store = std::make_shared<FakeStore>(&death);
  {
    ManualClock clock;
    SetOptions options = ManualOptions(&clock, /*max_failures=*/0);
    options.store = store;
    CircuitBreakerSet set(std::move(options));
    std::thread remote([&] {
      for (int i = 0; i < 200; ++i) {
        store->Push("r" + std::to_string(i % 8), i % 2 ? State::kOpen
                                                      : State::kClosed);
      }
    });
    for (int i = 0; i < 200; ++i) {
      FailIfAdmitted(set, "l" + std::to_string(i % 8));
    }
    remote.join();
  }
  BOOST_TEST(store->tally().attaches == 1);
  BOOST_TEST(store->tally().detaches == 1);
  BOOST_TEST(!store->tally().bad);
  store->Push("after", State::kOpen);  // no sink: must not reach the dead set
  BOOST_TEST(!store->tally().bad);
}

BOOST_AUTO_TEST_CASE(ContextsMovedToOtherThreadsAreSettledThereBeforeTheSetDies) {
  PinningThread pinning(/*churn=*/true);
  Death death;
  auto name = std::make_unique<std::string>("payload");
  std::weak_ptr<WatchedListener> watch;
  long expected_successes = 0, expected_failures = 0;
  {
    ManualClock clock;
    SetOptions options = ManualOptions(&clock, circuit::kUnlimited);
    auto captured = std::make_shared<int>(7);
    std::weak_ptr<int> captured_watch = captured;
    options.options_for = [captured](std::string_view) {
      BreakerOptions b;
      b.max_failures = circuit::kUnlimited;
      return b;
    };
    captured.reset();
    CircuitBreakerSet set(std::move(options));
    auto listener = std::make_shared<WatchedListener>(&death, name.get());
    watch = listener;
    set.add_listener(listener);
    set.add_listener(std::make_shared<CountingListener>());  // retires a list
    listener.reset();

    constexpr int kThreads = 4;
    constexpr int kPerThread = 500;
    std::vector<std::vector<Context>> batches(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      for (int i = 0; i < kPerThread; ++i) {
        batches[t].push_back(set.context("peer-" + std::to_string(i % 16)));
      }
    }
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([batch = std::move(batches[t]), t]() mutable {
        for (std::size_t i = 0; i < batch.size(); ++i) {
          switch ((i + t) % 4) {
            case 0: batch[i].succeed(); break;
            case 1: batch[i].fail(); break;
            case 2: batch[i].ignore(); break;
            default: break;  // the vector's destructor: a success
          }
        }
      });
      for (int i = 0; i < kPerThread; ++i) {
        int kind = (i + t) % 4;
        if (kind == 0 || kind == 3) ++expected_successes;
        if (kind == 1) ++expected_failures;
      }
    }
    for (std::thread& th : threads) th.join();
    auto w = watch.lock();
    BOOST_TEST(w->successes.load() == expected_successes);
    BOOST_TEST(w->failures.load() == expected_failures);
    w.reset();
    BOOST_TEST(!captured_watch.expired());  // the set's options_for has it
    std::uint64_t successes = 0;
    for (const auto& s : set.snapshot()) successes += s.successes;
    BOOST_TEST(successes == static_cast<std::uint64_t>(expected_successes));
    // Leaving the scope destroys the set, then `captured_watch`.
    BOOST_TEST_CHECKPOINT("destroying the set");
  }
  BOOST_TEST(watch.expired());
  BOOST_TEST(death.dead.load());
  name.reset();
  pinning.Stop();
  Epoch::Barrier();
}

BOOST_AUTO_TEST_CASE(HandlesUsedOnOtherThreadsGoBeforeTheSet) {
  Death death;
  auto name = std::make_unique<std::string>("payload");
  {
    CircuitBreakerSet other;
    Context held = other.context("held");
    ManualClock clock;
    CircuitBreakerSet set(ManualOptions(&clock, /*max_failures=*/1));
    set.add_listener(std::make_shared<WatchedListener>(&death, name.get()));
    PeerHandle h = set.handle("handled");
    std::vector<std::thread> threads;
    std::atomic<long> calls{0};
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([copy = h, &calls] {
        for (int i = 0; i < 1000; ++i) {
          absl::StatusOr<Context> ctx = copy.try_context();
          if (ctx.ok()) {
            ctx->succeed();
            ++calls;
          }
        }
      });  // each copy dies on its thread
    }
    for (std::thread& th : threads) th.join();
    h = PeerHandle();
    BOOST_TEST(calls.load() == 2000);
    BOOST_TEST(set.snapshot("handled")->successes == 2000u);
    held.succeed();
  }
  BOOST_TEST(death.dead.load());
  BOOST_TEST((death.Thread() == std::this_thread::get_id()));
}

BOOST_AUTO_TEST_CASE(SetsComeAndGoOnSeveralThreadsWhileOthersArePinned) {
  // Each thread holds a context of the shared set for its whole life (a
  // pin) and meanwhile builds and destroys sets with listeners,
  // options_for and a store, checking after each that all three are gone.
  CircuitBreakerSet shared;
  std::atomic<int> failures{0};
  auto worker = [&](int seed) {
    Context held = shared.context("held-" + std::to_string(seed));
    for (int round = 0; round < 30; ++round) {
      Death listener_death[2];
      Death store_death;
      auto name = std::make_unique<std::string>("payload");
      auto captured = std::make_shared<int>(round);
      std::weak_ptr<int> captured_watch = captured;
      {
        ManualClock clock;
        SetOptions options = ManualOptions(&clock, /*max_failures=*/0);
        options.max_peers = 8;
        options.store = std::make_shared<FakeStore>(&store_death);
        options.options_for = [captured = std::move(captured)](std::string_view) {
          BreakerOptions b;
          b.max_failures = *captured % 3;
          return b;
        };
        CircuitBreakerSet set(std::move(options));
        for (Death& d : listener_death) {
          set.add_listener(std::make_shared<WatchedListener>(&d, name.get()));
        }
        for (int i = 0; i < 64; ++i) {
          std::string peer = "p" + std::to_string((i * 7 + seed) % 40);
          if (i % 5 == 0) {
            FailIfAdmitted(set, peer);
          } else {
            absl::StatusOr<Context> ctx = set.try_context(peer);
            if (ctx.ok()) ctx->succeed();
          }
        }
      }
      bool ok = listener_death[0].dead.load() && listener_death[1].dead.load() &&
                store_death.dead.load() && captured_watch.expired();
      if (!ok) ++failures;
    }
    held.succeed();
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) threads.emplace_back(worker, t);
  for (std::thread& th : threads) th.join();
  BOOST_TEST(failures.load() == 0);
  Epoch::Barrier();
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace circuit::testing
