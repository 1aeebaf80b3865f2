// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// -----------------------------------------------------------------------------
// File: options.h
// -----------------------------------------------------------------------------
//
// `BreakerOptions` is the policy of one peer's breaker: when it opens, how
// long it stays open, how it probes its way back, how many of its calls may
// be in flight. `SetOptions` configures a whole `CircuitBreakerSet`: the
// default policy, how its peers are judged together (`max_open_fraction`,
// `OutlierOptions`), the clock, the logger, the limits on how many peers
// are tracked, and an optional shared store.
//
// Every rule that trips a breaker is listed here; a breaker opens when any
// enabled rule fires. Only the window rule (`max_failures` within
// `time_unit`) is on by default.
//
// Example:
//
//   circuit::SetOptions options;
//   options.defaults.max_failures = 5;
//   options.defaults.reset_timeout = absl::Seconds(30);
//   options.logger = spdlog::default_logger();
//   circuit::CircuitBreakerSet set(options);

#ifndef CIRCUIT_OPTIONS_H_
#define CIRCUIT_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace spdlog {
class logger;
}  // namespace spdlog

namespace circuit {

class Clock;
class StateStore;

// kUnlimited
//
// As `BreakerOptions::max_failures`, turns the window rule off.
inline constexpr int kUnlimited = std::numeric_limits<int>::max();

// BreakerOptions
//
// The policy of one breaker. A plain struct: set the fields you need and pass
// it in `SetOptions::defaults` or to `CircuitBreakerSet::configure()`.
struct BreakerOptions {
  // -------------------
  // The window rule (python-circuit's maxfail / time_unit)

  // A closed breaker opens on the counted failure that makes more than
  // `max_failures` counted failures fall within `(t - time_unit, t]`, t being
  // that failure's time. 0: the first counted failure opens. `kUnlimited`:
  // the rule is off.
  // Memory: 8 bytes per peer for each failure inside its window, allocated
  // as failures arrive (never more than `max_failures`).
  // Default: 3.  REQUIRES: >= 0.
  int max_failures = 3;

  // The sliding window of the window rule, and the window of the rate rules.
  // Default: 60 seconds.  REQUIRES: > 0.
  absl::Duration time_unit = absl::Seconds(60);

  // -------------------
  // Open and half-open

  // How long an open breaker rejects calls before it admits a probe (the
  // first open period; see the backoff fields for later ones).
  // Default: 10 seconds.  REQUIRES: >= 0.
  absl::Duration reset_timeout = absl::Seconds(10);

  // Probes admitted at once while half-open; other callers are rejected.
  // Default: 1.  REQUIRES: 1 <= value <= 65535.
  int half_open_max_calls = 1;

  // Successful probes that close a half-open breaker.
  // Default: 1.  REQUIRES: >= 1.
  int half_open_successes = 1;

  // -------------------
  // More trip rules (each off at its default)

  // Opens on the N-th counted failure in a row; a success resets the run
  // (pybreaker's fail_max). 0: off.
  // Default: 0.  REQUIRES: >= 0.
  int consecutive_failures = 0;

  // Opens when, over the last `time_unit`, counted failures / calls reaches
  // this fraction and at least `minimum_calls` calls were recorded there.
  // 0: off.
  // Default: 0.  REQUIRES: 0, or in (0, 1].
  double failure_rate_threshold = 0;

  // The least number of calls in the window before a rate rule may fire.
  // Default: 20.  REQUIRES: >= 1.
  int minimum_calls = 20;

  // How many buckets the rate window of `time_unit` is split into; older
  // buckets fall out whole.
  // Default: 10.  REQUIRES: 1 <= value <= 1000.
  int window_buckets = 10;

  // A call that takes longer than this is slow (whether it succeeded or
  // failed). Zero: no call is slow. Turning this on makes every admission
  // read the clock, to time the call.
  // Default: zero.  REQUIRES: >= 0.
  absl::Duration slow_call_duration = absl::ZeroDuration();

  // Opens when slow calls / calls over the window reaches this fraction
  // (with at least `minimum_calls` calls). 0: off.
  // Default: 0.  REQUIRES: 0, or in (0, 1]; needs `slow_call_duration` > 0.
  double slow_call_rate_threshold = 0;

  // -------------------
  // Backoff of the open period

  // The n-th trip in a row stays open `reset_timeout * multiplier^(n-1)`,
  // capped at `max_reset_timeout`, then spread by `jitter`. The count of
  // trips in a row drops by one for every full `time_unit` the breaker then
  // spends closed, and is reset by `close()`.
  // Default: 1 (no backoff).  REQUIRES: >= 1.
  double backoff_multiplier = 1;

  // The cap on a backed-off open period.
  // Default: infinite (no cap).  REQUIRES: >= reset_timeout.
  absl::Duration max_reset_timeout = absl::InfiniteDuration();

  // Spreads each open period uniformly within +/- this fraction of it, so
  // that many peers tripped together do not probe together. Deterministic
  // for a given `SetOptions::random_seed`, peer and trip.
  // Default: 0.  REQUIRES: 0 <= value < 1.
  double jitter = 0;

  // -------------------
  // Bulkhead

  // The most admitted calls of the peer that may be unsettled at once; past
  // it, admission is refused (`ConcurrencyLimitError`, or
  // `kResourceExhausted` naming the peer). A refusal is not a failure and
  // never trips the breaker. 0: unlimited.
  // Cost: off, nothing; on, every call takes the library's general path
  // (one atomic add at admission and one at settling).
  // Default: 0.  REQUIRES: >= 0.
  int max_concurrent_calls = 0;

  // BreakerOptions::validate()
  //
  // OK, or `kInvalidArgument` whose message names the first bad field and
  // its value.
  absl::Status validate() const;

  bool operator==(const BreakerOptions&) const = default;
};

// OutlierOptions
//
// Outlier ejection: the set compares its peers with each other and ejects
// (trips) the ones that do much worse than the rest, as Envoy's outlier
// detection does. Every rule is off at its default.
//
// "Calls" here are the outcomes counted as success or failure (ignored ones
// are not) settled since the previous evaluation. A peer is judged when it
// had at least `minimum_calls` of them, and nothing is judged unless at
// least `minimum_peers` peers are. Only closed peers are ejected. An
// ejection is a trip: the peer opens for its open period (with its
// backoff), probes then decide, and `SetOptions::max_open_fraction` may
// suppress it.
//
// When evaluation runs: on `CircuitBreakerSet::evaluate_outliers()`, and by
// itself on the first settle at or past `interval` after the previous
// evaluation that reads the clock anyway: a counted failure, or a timed
// call (`latency_factor` or a slow-call rule on). A closed success of an
// untimed call never runs it and pays nothing for it: no lock, clock read
// or allocation. That is no loss: the two rate rules cannot eject without a
// failure since the previous evaluation, and the latency rule times every
// call.
struct OutlierOptions {
  // How often evaluation runs by itself (see above).
  // Default: 10 seconds.  REQUIRES: > 0.
  absl::Duration interval = absl::Seconds(10);

  // No judgement unless at least this many peers had `minimum_calls` calls
  // since the previous evaluation.
  // Default: 5.  REQUIRES: >= 1.
  int minimum_peers = 5;

  // A peer with fewer calls since the previous evaluation is not judged.
  // Default: 20.  REQUIRES: >= 0.
  int minimum_calls = 20;

  // A judged peer whose success rate is below mean - factor * stdev of the
  // judged peers' success rates is ejected (strictly below: with identical
  // rates, stdev 0, nobody is). The standard deviation is the population
  // one (divided by the number of judged peers), as Envoy's. 0: off; Envoy
  // uses 1.9. Among n judged peers none can be more than sqrt(n - 1)
  // standard deviations below the mean, so a factor of 2 or more never
  // ejects anybody among 5 peers, and 1.9 only an extreme outlier.
  // Default: 0.  REQUIRES: finite and >= 0.
  double success_rate_stdev_factor = 0;

  // A judged peer whose failures / calls reaches this fraction is ejected.
  // 0: off.
  // Default: 0.  REQUIRES: in [0, 1].
  double failure_percentage_threshold = 0;

  // A judged peer whose median call latency is above this factor times the
  // median of the judged peers' medians is ejected. While on, every call is
  // timed (two clock reads and the general path), and each peer keeps its
  // last 64 latencies since the previous evaluation: the median is theirs.
  // A median of an even count is the mean of the two middle values. 0: off.
  // Default: 0.  REQUIRES: 0, or above 1.
  double latency_factor = 0;

  // false: detect only. Detections are logged, counted (in
  // `PeerSnapshot::ejections`) and reported to listeners (`ejected()`, the
  // reason starting with "would eject: "), and nothing is ejected.
  // Default: true.
  bool enforce = true;

  // OutlierOptions::validate()
  //
  // OK, or `kInvalidArgument` naming the first bad field.
  absl::Status validate() const;

  bool operator==(const OutlierOptions&) const = default;
};

// SetOptions
//
// Configures a `CircuitBreakerSet`.
struct SetOptions {
  // -------------------
  // Policy

  // The policy of every peer that has no per-peer options.
  BreakerOptions defaults;

  // If set, called (outside every lock) the first time a peer is named, to
  // give it its own policy, for example per-service defaults derived from
  // the peer id. `configure()` wins over it. A policy it returns that does
  // not validate is replaced by `defaults` and logged.
  std::function<BreakerOptions(std::string_view peer)> options_for;

  // The `absl::StatusCode`s that count as failures when `call()` gets an
  // `absl::Status` or `absl::StatusOr` back (or a context is settled with
  // one). Other codes, such as the caller's own `kInvalidArgument` or
  // `kNotFound`, count as successes.
  std::vector<absl::StatusCode> failure_codes = {
      absl::StatusCode::kUnavailable, absl::StatusCode::kDeadlineExceeded,
      absl::StatusCode::kInternal,    absl::StatusCode::kUnknown,
      absl::StatusCode::kResourceExhausted, absl::StatusCode::kAborted,
      absl::StatusCode::kDataLoss};

  // -------------------
  // Judging peers together

  // Automatic decisions (trip rules, outlier ejection) never leave more than
  // max(1, floor(max_open_fraction * size())) peers open, half-open or
  // forced open. A trip that would go past that is suppressed: the breaker
  // stays closed and keeps its failure history, so the next counted failure
  // after room frees up trips it; `PeerSnapshot::suppressed_trips` counts
  // it, it is logged (at most one line per `log_interval`) and listeners get
  // `trip_suppressed()`. Manual `open()` and `force_open()`, and a shared
  // store's decisions, are never refused and count toward the limit. When
  // the caller's own network fails every peer looks sick at once; tripping
  // them all would turn a partial outage into a total one.
  // Cost: below 1, every open and close of a breaker counts itself in one
  // shared atomic; nothing on the closed path either way.
  // Default: 1 (no limit).  REQUIRES: in (0, 1].
  double max_open_fraction = 1;

  // Outlier ejection; see OutlierOptions.
  OutlierOptions outlier;

  // -------------------
  // Peers

  // The most peers tracked at once; 0: unbounded. Past the cap, the least
  // recently used idle closed peer is dropped. Open, half-open, forced-open,
  // disabled and handled peers are never dropped, so when every peer is one
  // of those the set grows past the cap rather than forget a sick peer.
  std::size_t max_peers = 0;

  // Closed peers not used for this long are dropped (never open, half-open,
  // forced-open, disabled or handled ones). Zero: never. Drops happen when
  // new peers arrive and on `size()`, `snapshot()` and `sweep()`; recency is
  // tracked at the granularity of those sweeps (at most one per
  // idle_timeout / 8), so a peer goes at the first sweep that runs one
  // sweep interval or more past its timeout.
  absl::Duration idle_timeout = absl::ZeroDuration();

  // The longest accepted peer id, in bytes. Longer ids are rejected with
  // `std::invalid_argument` / `kInvalidArgument`.
  std::size_t max_peer_id_bytes = 4096;

  // -------------------
  // Observability and testing

  // Time source; null: `MonotonicClock::instance()`. Not owned; must outlive
  // the set.
  const Clock* clock = nullptr;

  // Receives one line per state change (open at warn, half-open and closed at
  // info, probes at debug); null: silent.
  std::shared_ptr<spdlog::logger> logger;

  // A peer that trips again within this interval of its last logged trip is
  // not logged again; the suppressed transitions are counted and reported
  // on its next logged trip. Zero: log every transition.
  absl::Duration log_interval = absl::Seconds(10);

  // Seeds the jitter of open periods; 0: seeded from the process.
  std::uint64_t random_seed = 0;

  // -------------------
  // Sharing

  // Shares each peer's breaker with every set, in any process, that uses an
  // equivalent store (see circuit/redis_store.h); null: local only.
  std::shared_ptr<StateStore> store;

  // SetOptions::validate()
  //
  // `defaults.validate()`, then the set-level fields (`outlier.validate()`
  // among them).
  absl::Status validate() const;
};

}  // namespace circuit

#endif  // CIRCUIT_OPTIONS_H_
