// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Helpers shared by the core tests: listeners that record what they hear,
// and a set built on a `ManualClock`.

#ifndef CIRCUIT_TESTS_TEST_UTIL_H_
#define CIRCUIT_TESTS_TEST_UTIL_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "circuit/breaker_set.h"
#include "circuit/clock.h"
#include "circuit/listener.h"
#include "circuit/options.h"
#include "circuit/state.h"

namespace circuit::testing {

// Records every event as one line, in order: "before_call a", "success a",
// "failure a", "rejected a", "state_change a closed->open".
class RecordingListener : public Listener {
 public:
  void before_call(std::string_view peer) override { Add("before_call", peer); }
  void success(std::string_view peer) override { Add("success", peer); }
  void failure(std::string_view peer) override { Add("failure", peer); }
  void rejected(std::string_view peer) override { Add("rejected", peer); }
  void state_change(std::string_view peer, State from, State to) override {
    std::string change = " ";
    change.append(state_name(from));
    change.append("->");
    change.append(state_name(to));
    Add("state_change", peer, change);
  }

  std::vector<std::string> events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

  void clear() {
    std::lock_guard<std::mutex> lock(mu_);
    events_.clear();
  }

 private:
  void Add(std::string_view what, std::string_view peer,
           std::string_view extra = {}) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string line(what);
    line.append(" ");
    line.append(peer);
    line.append(extra);
    events_.push_back(std::move(line));
  }

  mutable std::mutex mu_;
  std::vector<std::string> events_;
};

// Counts every kind of event, lock-free, for the stress tests.
class CountingListener : public Listener {
 public:
  void before_call(std::string_view) override { ++before_calls; }
  void success(std::string_view) override { ++successes; }
  void failure(std::string_view) override { ++failures; }
  void rejected(std::string_view) override { ++rejections; }
  void state_change(std::string_view, State, State to) override {
    if (to == State::kOpen) ++opens;
    if (to == State::kHalfOpen) ++half_opens;
    if (to == State::kClosed) ++closes;
  }

  std::atomic<long> before_calls{0};
  std::atomic<long> successes{0};
  std::atomic<long> failures{0};
  std::atomic<long> rejections{0};
  std::atomic<long> opens{0};
  std::atomic<long> half_opens{0};
  std::atomic<long> closes{0};
};

// SetOptions on `clock` with the given window rule; everything else default.
inline SetOptions ManualOptions(const Clock* clock, int max_failures = 3,
                                absl::Duration time_unit = absl::Seconds(60),
                                absl::Duration reset_timeout = absl::Seconds(10)) {
  SetOptions o;
  o.clock = clock;
  o.defaults.max_failures = max_failures;
  o.defaults.time_unit = time_unit;
  o.defaults.reset_timeout = reset_timeout;
  return o;
}

// Records one counted failure of `peer` through a context.
inline void FailOnce(CircuitBreakerSet& set, std::string_view peer) {
  set.context(peer).fail();
}

// Records one success of `peer` through a context.
inline void SucceedOnce(CircuitBreakerSet& set, std::string_view peer) {
  set.context(peer).succeed();
}

// Whether a call to `peer` would be admitted now; the admitted call (if any)
// is ignored, so it changes no count and frees its probe slot.
inline bool Admits(CircuitBreakerSet& set, std::string_view peer) {
  absl::StatusOr<Context> ctx = set.try_context(peer);
  if (!ctx.ok()) return false;
  ctx->ignore();
  return true;
}

}  // namespace circuit::testing

#endif  // CIRCUIT_TESTS_TEST_UTIL_H_
