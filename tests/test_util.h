// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Helpers shared by the core tests: options, fixtures built on a
// `ManualClock`, one-line calls, listeners that record or count what they
// hear or throw from every event, the tables of bad and edge option values,
// and small readers (snapshots, retry-after, UTF-8).
//
// Test files put their helpers and cases inside `namespace circuit::testing`
// (in an anonymous namespace for file-local helpers), so they name the
// library's types and these helpers without using-declarations.

#ifndef CIRCUIT_TESTS_TEST_UTIL_H_
#define CIRCUIT_TESTS_TEST_UTIL_H_

#include <atomic>
#include <climits>
#include <cstddef>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "circuit/breaker_set.h"
#include "circuit/clock.h"
#include "circuit/listener.h"
#include "circuit/options.h"
#include "circuit/state.h"
#include "spdlog/logger.h"
#include "spdlog/sinks/ringbuffer_sink.h"

namespace circuit::testing {

// ---------------------------------------------------------------------------
// Options and fixtures

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

// SetOptions on `clock` with `defaults`; everything else default.
inline SetOptions ManualOptions(const Clock* clock, const BreakerOptions& defaults) {
  SetOptions o;
  o.clock = clock;
  o.defaults = defaults;
  return o;
}

// A set on its own ManualClock, which reads `start` (by default the Unix
// epoch) until the test moves it: the fixture of the tests that drive one
// set. `options` are the set's, but for their clock. Derive from it for a
// set with other options or more helpers.
struct ManualSetFixture {
  explicit ManualSetFixture(SetOptions options = {},
                            absl::Time start = absl::UnixEpoch())
      : clock(start), set([&] {
          options.clock = &clock;
          return std::move(options);
        }()) {}

  // Sets the clock to `t` after the epoch.
  void At(absl::Duration t) { clock.set(absl::UnixEpoch() + t); }

  ManualClock clock;
  CircuitBreakerSet set;
};

// Advances `clock` by `total` in steps of at most `step`, sweeping `set`
// after each step as a periodic sweeper would; returns how many peers the
// sweeps dropped.
inline std::size_t SweepFor(CircuitBreakerSet& set, ManualClock& clock,
                            absl::Duration total, absl::Duration step) {
  std::size_t dropped = 0;
  while (total > step) {
    clock.advance(step);
    total -= step;
    dropped += set.sweep();
  }
  clock.advance(total);
  return dropped + set.sweep();
}

// ---------------------------------------------------------------------------
// One-line calls

// Records `n` counted failures of `peer`, each through its own context.
inline void Fail(CircuitBreakerSet& set, std::string_view peer, int n = 1) {
  for (int i = 0; i < n; ++i) set.context(peer).fail();
}

// Records `n` successes of `peer`, each through its own context.
inline void Succeed(CircuitBreakerSet& set, std::string_view peer, int n = 1) {
  for (int i = 0; i < n; ++i) set.context(peer).succeed();
}

// Records one counted failure of `peer` through a context.
inline void FailOnce(CircuitBreakerSet& set, std::string_view peer) {
  Fail(set, peer);
}

// Records one success of `peer` through a context.
inline void SucceedOnce(CircuitBreakerSet& set, std::string_view peer) {
  Succeed(set, peer);
}

// Fails `peer` until it opens; returns how many failures that took (or -1
// when it did not open within 100).
inline int FailuresToOpen(CircuitBreakerSet& set, std::string_view peer) {
  for (int i = 1; i <= 100; ++i) {
    set.context(peer).fail();
    if (set.state(peer) == State::kOpen) return i;
  }
  return -1;
}

// Whether a call to `peer` would be admitted now; the admitted call (if any)
// is ignored, so it changes no count and frees its probe slot.
inline bool Admits(CircuitBreakerSet& set, std::string_view peer) {
  absl::StatusOr<Context> ctx = set.try_context(peer);
  if (!ctx.ok()) return false;
  ctx->ignore();
  return true;
}

// ---------------------------------------------------------------------------
// Readers

// Whether `peer` is tracked; reads without creating it.
inline bool Tracked(const CircuitBreakerSet& set, std::string_view peer) {
  return set.snapshot(peer).has_value();
}

// The snapshot of `peer`, which must be tracked (the test stops if not).
inline PeerSnapshot SnapshotOf(const CircuitBreakerSet& set,
                               std::string_view peer) {
  std::optional<PeerSnapshot> s = set.snapshot(peer);
  BOOST_REQUIRE_MESSAGE(s.has_value(), "peer " << peer << " is not tracked");
  return *s;
}

// The retry-after of the rejection of a call to `peer` now; the test fails
// if the call is admitted.
inline absl::Duration RetryAfter(CircuitBreakerSet& set, std::string_view peer) {
  try {
    set.context(peer);
  } catch (const CircuitOpenError& e) {
    return e.retry_after();
  }
  BOOST_FAIL("a call to " << peer << " was admitted; expected a rejection");
  return absl::ZeroDuration();
}

// Whether `s` is strict UTF-8: no overlong forms, no surrogates, nothing past
// U+10FFFF.
inline bool ValidUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
      n = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) return false;
    }
    i += n;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Listeners

// Records every event as one line, in order: "before_call a", "success a",
// "failure a", "rejected a", "state_change a closed->open", "ejected a:
// <reason>", "trip_suppressed a".
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
  void ejected(std::string_view peer, std::string_view reason) override {
    Add("ejected", peer, ": " + std::string(reason));
  }
  void trip_suppressed(std::string_view peer) override {
    Add("trip_suppressed", peer);
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

// A ManualSetFixture whose set reports to a RecordingListener; by default
// the set opens on the first counted failure.
struct RecordingFixture : ManualSetFixture {
  explicit RecordingFixture(SetOptions options = ManualOptions(nullptr, 0))
      : ManualSetFixture(std::move(options)) {
    set.add_listener(listener);
  }

  std::shared_ptr<RecordingListener> listener =
      std::make_shared<RecordingListener>();
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

// Throws from every event: a std::runtime_error, or an int when built with
// `standard` false (an exception that is not a std::exception).
class ThrowingListener : public Listener {
 public:
  explicit ThrowingListener(bool standard = true) : standard_(standard) {}
  void before_call(std::string_view) override { Throw(); }
  void success(std::string_view) override { Throw(); }
  void failure(std::string_view) override { Throw(); }
  void rejected(std::string_view) override { Throw(); }
  void state_change(std::string_view, State, State) override { Throw(); }

 private:
  void Throw() {
    if (standard_) throw std::runtime_error("listener broke");
    throw 17;
  }
  bool standard_;
};

// ---------------------------------------------------------------------------
// Logs

// One captured log line.
struct Line {
  spdlog::level::level_enum level;
  std::string text;
};

// A logger that keeps its last 1000 lines, for SetOptions::logger.
struct Captured {
  Captured() { logger->set_level(spdlog::level::trace); }

  std::vector<Line> lines() const {
    std::vector<Line> out;
    for (const auto& m : sink->last_raw()) {
      out.push_back({m.level, std::string(m.payload.data(), m.payload.size())});
    }
    return out;
  }

  // The lines at `level`.
  std::vector<std::string> at(spdlog::level::level_enum level) const {
    std::vector<std::string> out;
    for (const Line& l : lines()) {
      if (l.level == level) out.push_back(l.text);
    }
    return out;
  }

  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink =
      std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000);
  std::shared_ptr<spdlog::logger> logger =
      std::make_shared<spdlog::logger>("circuit-test", sink);
};

// ---------------------------------------------------------------------------
// Option values at and past their limits

// One option value, named by the field it sets. For a bad value, the field
// the error must name.
template <class Options>
struct OptionValue {
  std::string field;
  std::function<void(Options&)> apply;
};

template <class Options>
std::ostream& operator<<(std::ostream& os, const OptionValue<Options>& v) {
  return os << v.field;
}

// Every kind of bad BreakerOptions value, each alone on the defaults.
inline std::vector<OptionValue<BreakerOptions>> BadBreakerOptions() {
  using O = BreakerOptions;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const absl::Duration forever = absl::InfiniteDuration();
  return {
      {"max_failures", [](O& o) { o.max_failures = -1; }},
      {"max_failures", [](O& o) { o.max_failures = INT_MIN; }},
      {"time_unit", [](O& o) { o.time_unit = absl::ZeroDuration(); }},
      {"time_unit", [](O& o) { o.time_unit = -absl::Nanoseconds(1); }},
      {"time_unit", [=](O& o) { o.time_unit = forever; }},
      {"time_unit", [=](O& o) { o.time_unit = -forever; }},
      {"reset_timeout", [](O& o) { o.reset_timeout = -absl::Nanoseconds(1); }},
      {"reset_timeout", [=](O& o) { o.reset_timeout = forever; }},
      {"reset_timeout", [=](O& o) { o.reset_timeout = -forever; }},
      {"half_open_max_calls", [](O& o) { o.half_open_max_calls = 0; }},
      {"half_open_max_calls", [](O& o) { o.half_open_max_calls = -1; }},
      {"half_open_max_calls", [](O& o) { o.half_open_max_calls = -3; }},
      {"half_open_max_calls", [](O& o) { o.half_open_max_calls = 65536; }},
      {"half_open_max_calls", [](O& o) { o.half_open_max_calls = INT_MAX; }},
      {"half_open_successes", [](O& o) { o.half_open_successes = 0; }},
      {"half_open_successes", [](O& o) { o.half_open_successes = -1; }},
      {"half_open_successes", [](O& o) { o.half_open_successes = -5; }},
      {"consecutive_failures", [](O& o) { o.consecutive_failures = -1; }},
      {"failure_rate_threshold", [](O& o) { o.failure_rate_threshold = -0.1; }},
      {"failure_rate_threshold", [](O& o) { o.failure_rate_threshold = 1.0000001; }},
      {"failure_rate_threshold", [](O& o) { o.failure_rate_threshold = 1.01; }},
      {"failure_rate_threshold", [=](O& o) { o.failure_rate_threshold = nan; }},
      {"failure_rate_threshold", [=](O& o) { o.failure_rate_threshold = inf; }},
      {"minimum_calls", [](O& o) { o.minimum_calls = 0; }},
      {"minimum_calls", [](O& o) { o.minimum_calls = -1; }},
      {"minimum_calls", [](O& o) { o.minimum_calls = -5; }},
      {"window_buckets", [](O& o) { o.window_buckets = 0; }},
      {"window_buckets", [](O& o) { o.window_buckets = -1; }},
      {"window_buckets", [](O& o) { o.window_buckets = -3; }},
      {"window_buckets", [](O& o) { o.window_buckets = 1001; }},
      {"slow_call_duration", [](O& o) { o.slow_call_duration = -absl::Nanoseconds(1); }},
      {"slow_call_duration", [](O& o) { o.slow_call_duration = -absl::Seconds(1); }},
      {"slow_call_duration", [=](O& o) { o.slow_call_duration = forever; }},
      {"slow_call_rate_threshold",
       [](O& o) {
         o.slow_call_duration = absl::Seconds(1);
         o.slow_call_rate_threshold = -0.5;
       }},
      {"slow_call_rate_threshold",
       [](O& o) {
         o.slow_call_duration = absl::Seconds(1);
         o.slow_call_rate_threshold = 1.5;
       }},
      {"slow_call_rate_threshold",
       [=](O& o) {
         o.slow_call_duration = absl::Seconds(1);
         o.slow_call_rate_threshold = nan;
       }},
      // A rate without a duration never fires; out of range is named first.
      {"slow_call_rate_threshold", [](O& o) { o.slow_call_rate_threshold = 0.5; }},
      {"slow_call_rate_threshold", [](O& o) { o.slow_call_rate_threshold = 2; }},
      {"backoff_multiplier", [](O& o) { o.backoff_multiplier = 0.99; }},
      {"backoff_multiplier", [](O& o) { o.backoff_multiplier = 0.5; }},
      {"backoff_multiplier", [](O& o) { o.backoff_multiplier = 0; }},
      {"backoff_multiplier", [](O& o) { o.backoff_multiplier = -1; }},
      {"backoff_multiplier", [=](O& o) { o.backoff_multiplier = nan; }},
      {"backoff_multiplier", [=](O& o) { o.backoff_multiplier = inf; }},
      {"max_reset_timeout",
       [](O& o) { o.max_reset_timeout = o.reset_timeout - absl::Nanoseconds(1); }},
      {"max_reset_timeout", [](O& o) { o.max_reset_timeout = absl::Seconds(9); }},
      {"max_reset_timeout", [](O& o) { o.max_reset_timeout = -absl::Seconds(1); }},
      {"max_reset_timeout", [=](O& o) { o.max_reset_timeout = -forever; }},
      {"jitter", [](O& o) { o.jitter = -0.01; }},
      {"jitter", [](O& o) { o.jitter = -0.1; }},
      {"jitter", [](O& o) { o.jitter = 1; }},
      {"jitter", [=](O& o) { o.jitter = nan; }},
      {"jitter", [=](O& o) { o.jitter = inf; }},
      {"max_concurrent_calls", [](O& o) { o.max_concurrent_calls = -1; }},
      {"max_concurrent_calls", [](O& o) { o.max_concurrent_calls = INT_MIN; }},
  };
}

// BreakerOptions values at the edge of what is allowed, each alone on the
// defaults, and then all of them at once ("all").
inline std::vector<OptionValue<BreakerOptions>> EdgeBreakerOptions() {
  using O = BreakerOptions;
  const absl::Duration millennium = absl::Hours(24 * 365 * 1000);
  std::vector<OptionValue<BreakerOptions>> edges = {
      {"max_failures", [](O& o) { o.max_failures = 0; }},
      {"max_failures", [](O& o) { o.max_failures = kUnlimited; }},
      {"time_unit", [](O& o) { o.time_unit = absl::Nanoseconds(1); }},
      {"time_unit", [=](O& o) { o.time_unit = millennium; }},
      {"reset_timeout", [](O& o) { o.reset_timeout = absl::ZeroDuration(); }},
      {"reset_timeout", [=](O& o) { o.reset_timeout = millennium; }},
      {"half_open_max_calls", [](O& o) { o.half_open_max_calls = 65535; }},
      {"half_open_successes", [](O& o) { o.half_open_successes = 1000; }},
      {"consecutive_failures", [](O& o) { o.consecutive_failures = 0; }},
      {"failure_rate_threshold", [](O& o) { o.failure_rate_threshold = 1; }},
      {"minimum_calls", [](O& o) { o.minimum_calls = 1; }},
      {"window_buckets", [](O& o) { o.window_buckets = 1; }},
      {"window_buckets", [](O& o) { o.window_buckets = 1000; }},
      {"slow_call_duration", [](O& o) { o.slow_call_duration = absl::Nanoseconds(1); }},
      {"slow_call_rate_threshold",
       [](O& o) {
         o.slow_call_duration = absl::Nanoseconds(1);
         o.slow_call_rate_threshold = 1;
       }},
      {"backoff_multiplier", [](O& o) { o.backoff_multiplier = 1; }},
      {"max_reset_timeout", [](O& o) { o.max_reset_timeout = o.reset_timeout; }},
      {"jitter", [](O& o) { o.jitter = 0.99; }},
      {"jitter", [](O& o) { o.jitter = 0.999; }},
      {"max_concurrent_calls", [](O& o) { o.max_concurrent_calls = 0; }},
      {"max_concurrent_calls", [](O& o) { o.max_concurrent_calls = 1; }},
      {"max_concurrent_calls", [](O& o) { o.max_concurrent_calls = INT_MAX; }},
  };
  // The last edge of each field wins where a field has two.
  std::vector<std::function<void(O&)>> each;
  for (const auto& e : edges) each.push_back(e.apply);
  edges.push_back({"all", [each](O& o) {
                     for (const auto& apply : each) apply(o);
                   }});
  return edges;
}

// Every kind of bad set-level value. The field named is the start of the
// error's message (BreakerOptions fields under "defaults.").
inline std::vector<OptionValue<SetOptions>> BadSetOptions() {
  using O = SetOptions;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  return {
      {"defaults.max_failures", [](O& o) { o.defaults.max_failures = -1; }},
      {"defaults.half_open_max_calls", [](O& o) { o.defaults.half_open_max_calls = 0; }},
      {"idle_timeout", [](O& o) { o.idle_timeout = -absl::Nanoseconds(1); }},
      {"idle_timeout", [](O& o) { o.idle_timeout = -absl::Seconds(1); }},
      {"log_interval", [](O& o) { o.log_interval = -absl::Seconds(1); }},
      {"max_peer_id_bytes", [](O& o) { o.max_peer_id_bytes = 0; }},
      {"failure_codes", [](O& o) { o.failure_codes.push_back(absl::StatusCode::kOk); }},
      {"failure_codes",
       [](O& o) {
         o.failure_codes = {absl::StatusCode::kUnavailable, absl::StatusCode::kOk};
       }},
      {"failure_codes", [](O& o) { o.failure_codes = {absl::StatusCode::kOk}; }},
      {"max_open_fraction", [](O& o) { o.max_open_fraction = 0; }},
      {"max_open_fraction", [](O& o) { o.max_open_fraction = -0.5; }},
      {"max_open_fraction", [](O& o) { o.max_open_fraction = 1.0000001; }},
      {"max_open_fraction", [=](O& o) { o.max_open_fraction = nan; }},
      {"max_open_fraction", [=](O& o) { o.max_open_fraction = inf; }},
      {"outlier.interval", [](O& o) { o.outlier.interval = absl::ZeroDuration(); }},
      {"outlier.interval",
       [](O& o) { o.outlier.interval = -absl::Nanoseconds(1); }},
      {"outlier.interval",
       [](O& o) { o.outlier.interval = absl::InfiniteDuration(); }},
      {"outlier.minimum_peers", [](O& o) { o.outlier.minimum_peers = 0; }},
      {"outlier.minimum_peers", [](O& o) { o.outlier.minimum_peers = -1; }},
      {"outlier.minimum_calls", [](O& o) { o.outlier.minimum_calls = -1; }},
      {"outlier.success_rate_stdev_factor",
       [](O& o) { o.outlier.success_rate_stdev_factor = -0.1; }},
      {"outlier.success_rate_stdev_factor",
       [=](O& o) { o.outlier.success_rate_stdev_factor = nan; }},
      {"outlier.success_rate_stdev_factor",
       [=](O& o) { o.outlier.success_rate_stdev_factor = inf; }},
      {"outlier.failure_percentage_threshold",
       [](O& o) { o.outlier.failure_percentage_threshold = -0.01; }},
      {"outlier.failure_percentage_threshold",
       [](O& o) { o.outlier.failure_percentage_threshold = 1.0000001; }},
      {"outlier.failure_percentage_threshold",
       [=](O& o) { o.outlier.failure_percentage_threshold = nan; }},
      {"outlier.latency_factor", [](O& o) { o.outlier.latency_factor = 1; }},
      {"outlier.latency_factor", [](O& o) { o.outlier.latency_factor = 0.5; }},
      {"outlier.latency_factor", [](O& o) { o.outlier.latency_factor = -2; }},
      {"outlier.latency_factor", [=](O& o) { o.outlier.latency_factor = nan; }},
      {"outlier.latency_factor", [=](O& o) { o.outlier.latency_factor = inf; }},
      {"defaults.max_concurrent_calls",
       [](O& o) { o.defaults.max_concurrent_calls = -1; }},
  };
}

// SetOptions values at the edge of what is allowed, each alone on the
// defaults.
inline std::vector<OptionValue<SetOptions>> EdgeSetOptions() {
  using O = SetOptions;
  return {
      {"max_open_fraction", [](O& o) { o.max_open_fraction = 1; }},
      {"max_open_fraction", [](O& o) { o.max_open_fraction = 1e-9; }},
      {"outlier.interval",
       [](O& o) { o.outlier.interval = absl::Nanoseconds(1); }},
      {"outlier.minimum_peers", [](O& o) { o.outlier.minimum_peers = 1; }},
      {"outlier.minimum_calls", [](O& o) { o.outlier.minimum_calls = 0; }},
      {"outlier.success_rate_stdev_factor",
       [](O& o) { o.outlier.success_rate_stdev_factor = 0; }},
      {"outlier.success_rate_stdev_factor",
       [](O& o) { o.outlier.success_rate_stdev_factor = 1e6; }},
      {"outlier.failure_percentage_threshold",
       [](O& o) { o.outlier.failure_percentage_threshold = 0; }},
      {"outlier.failure_percentage_threshold",
       [](O& o) { o.outlier.failure_percentage_threshold = 1; }},
      {"outlier.latency_factor", [](O& o) { o.outlier.latency_factor = 0; }},
      {"outlier.latency_factor",
       [](O& o) { o.outlier.latency_factor = 1.0000001; }},
  };
}

}  // namespace circuit::testing

#endif  // CIRCUIT_TESTS_TEST_UTIL_H_
