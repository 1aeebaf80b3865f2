// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Sets that share one RedisStore, with listeners that block or call back
// into the store from the store's own threads. A blocking listener must
// delay only what waits on it (never another set's destructor), and a
// listener may build and destroy sets on the same store; a sink may detach
// itself from inside its own delivery.
//
// Each wait is bounded (kGuard) so that a deadlock fails the test instead
// of hanging it. When a store thread is stuck for good, the test leaks the
// store and its sets on purpose: joining that thread would hang.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include <boost/test/unit_test.hpp>

#include "circuit/circuit.h"
#include "circuit/redis_store.h"
#include "circuit/state_store.h"
#include "redis_harness.h"

namespace {

using circuit::State;
using namespace circuit::testing;

// Generous: a correct store answers in milliseconds.
constexpr std::chrono::seconds kGuard(10);

struct SkipWithoutRedis {
  SkipWithoutRedis() { RequireRedisOrSkip(); }
};
BOOST_TEST_GLOBAL_FIXTURE(SkipWithoutRedis);

struct ServerFixture {
  RedisServer server;
};

circuit::BreakerOptions Policy() {
  circuit::BreakerOptions b;
  b.max_failures = 1;
  b.time_unit = absl::Seconds(60);
  b.reset_timeout = absl::Seconds(30);
  return b;
}

// Runs `on_open(peer)` for every transition into open.
class OnOpen : public circuit::Listener {
 public:
  explicit OnOpen(std::function<void(std::string_view)> on_open)
      : on_open_(std::move(on_open)) {}
  void state_change(std::string_view peer, State, State to) override {
    if (to == State::kOpen) on_open_(peer);
  }

 private:
  std::function<void(std::string_view)> on_open_;
};

// Holds whoever calls Pass() until Open(); the wait is bounded by kGuard
// only so that a failing test cannot hang.
class Gate {
 public:
  void Pass() {
    std::unique_lock<std::mutex> lock(mu_);
    ++inside_;
    cv_.notify_all();
    cv_.wait_for(lock, kGuard * 3, [&] { return open_; });
    --inside_;
  }
  bool WaitInside() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kGuard, [&] { return inside_ > 0; });
  }
  bool inside() {
    std::lock_guard<std::mutex> lock(mu_);
    return inside_ > 0;
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int inside_ = 0;
  bool open_ = false;
};

// A store with two sets on it; `a` trips, `b` hears it from the store.
struct Fleet {
  std::shared_ptr<circuit::RedisStore> store;
  std::unique_ptr<circuit::CircuitBreakerSet> a, b;

  explicit Fleet(const circuit::RedisOptions& r)
      : store(std::make_shared<circuit::RedisStore>(r)),
        a(MakeSet(store, Policy())),
        b(MakeSet(store, Policy())) {}
};

// Whether `f` became ready within kGuard.
template <class T>
bool ReadyInTime(std::future<T>& f) {
  return f.wait_for(kGuard) == std::future_status::ready;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(RedisListenerTest, ServerFixture)

BOOST_AUTO_TEST_CASE(ABlockedListenerDoesNotDelayAnotherSetsDestructor) {
  Fleet fleet(TestRedisOptions(server.port(), Prefix("blocked")));
  auto gate = std::make_shared<Gate>();
  fleet.b->add_listener(
      std::make_shared<OnOpen>([gate](std::string_view) { gate->Pass(); }));
  BOOST_REQUIRE(WaitFor([&] { return fleet.store->healthy(); }));
  FailCalls(*fleet.a, "x", 2);
  BOOST_REQUIRE(gate->WaitInside());  // b's listener holds a store thread

  auto destroyed = std::async(std::launch::async, [&] { fleet.a.reset(); });
  bool returned = ReadyInTime(destroyed);
  bool still_blocked = gate->inside();
  gate->Open();
  destroyed.wait();

  BOOST_TEST(returned);
  BOOST_TEST(still_blocked);
}

BOOST_AUTO_TEST_CASE(AListenerMayBuildAndDestroyASetOnTheSameStore) {
  auto* fleet = new Fleet(TestRedisOptions(server.port(), Prefix("reenter")));
  std::promise<State> built;
  std::future<State> result = built.get_future();
  std::once_flag once;
  std::weak_ptr<circuit::RedisStore> weak = fleet->store;
  fleet->b->add_listener(std::make_shared<OnOpen>([&, weak](std::string_view) {
    std::call_once(once, [&] {
      auto third = MakeSet(weak.lock(), Policy());
      FailCalls(*third, "y", 2);
      State s = third->state("y");
      third.reset();
      built.set_value(s);
    });
  }));
  BOOST_REQUIRE(WaitFor([&] { return fleet->store->healthy(); }));

  FailCalls(*fleet->a, "x", 2);

  bool completed = ReadyInTime(result);
  BOOST_TEST(completed);
  if (!completed) return;  // a store thread is stuck: leak `fleet`
  BOOST_TEST((result.get() == State::kOpen));
  delete fleet;
}

// A sink detached from inside its own delivery: detach() returns at once
// (it cannot wait for the delivery it is part of), and the store never
// calls that sink again.
BOOST_AUTO_TEST_CASE(ASinkMayDetachItselfFromItsOwnDelivery) {
  struct SelfDetaching : circuit::StoreSink {
    circuit::StateStore* store = nullptr;
    std::atomic<int> calls{0};
    std::promise<void> detached;
    void apply_remote(std::string_view, State, absl::Duration,
                      std::uint64_t) override {
      if (calls.fetch_add(1) == 0) {
        store->detach(this);
        detached.set_value();
      }
    }
  };
  struct Witness : circuit::StoreSink {
    std::mutex mu;
    std::string last;
    void apply_remote(std::string_view peer, State, absl::Duration,
                      std::uint64_t) override {
      std::lock_guard<std::mutex> lock(mu);
      last = std::string(peer);
    }
  };
  auto* fleet = new Fleet(TestRedisOptions(server.port(), Prefix("self")));
  auto* sink = new SelfDetaching;
  auto* witness = new Witness;
  sink->store = fleet->store.get();
  std::future<void> detached = sink->detached.get_future();
  fleet->store->attach(sink, Policy());
  fleet->store->attach(witness, Policy());
  BOOST_REQUIRE(WaitFor([&] { return fleet->store->healthy(); }));

  FailCalls(*fleet->a, "x", 2);

  bool completed = ReadyInTime(detached);
  BOOST_TEST(completed);
  if (!completed) return;  // a store thread is stuck: leak everything
  // Sinks are called in the order they attached: once the witness has
  // seen "y", a sink still attached would have too.
  FailCalls(*fleet->a, "y", 2);
  BOOST_TEST(WaitFor([&] {
    std::lock_guard<std::mutex> lock(witness->mu);
    return witness->last == "y";
  }));
  BOOST_TEST(sink->calls.load() == 1);
  fleet->store->detach(witness);
  delete fleet;
  delete witness;
  delete sink;
}

BOOST_AUTO_TEST_SUITE_END()
