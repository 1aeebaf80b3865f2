// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// -----------------------------------------------------------------------------
// File: tests/model/reference_model.h
// -----------------------------------------------------------------------------
//
// A small, sequential, obviously correct model of DESIGN.md sections 2 and
// 2.1, written from the document and not from the implementation. It is
// slow on purpose: the window rule keeps every failure time in a vector and
// counts them, probes in flight are counted by scanning the calls, and every
// "state change" bumps an era number that calls remember.
//
// What the model covers (everything else must be at its default for
// `Supports()`): the window rule (`max_failures`, `time_unit`), the
// consecutive rule, `reset_timeout`, `half_open_max_calls`,
// `half_open_successes`, late-outcome fencing, the manual controls and
// `configure()`. Not covered: the rate rules, slow calls, backoff and jitter,
// eviction, the store.
//
// Decisions the design leaves open, and which the model fixes (each is the
// reading of DESIGN.md the tests hold the implementation to):
//   - Every manual control starts a new era, even when the state does not
//     change (`open()` on an open breaker restarts its open period; `close()`
//     on a closed one clears the history): outcomes of calls admitted before
//     it are late.
//   - An open period is fixed when it starts: `configure()` changing
//     `reset_timeout` applies to the next one.
//   - The window rule's history holds the counted failures of the current
//     closed period while the rule is on (`max_failures != kUnlimited`).
//     With fixed options only the newest `max_failures` of them can ever
//     matter, so the rule has room for that many: `configure()` keeps the
//     newest min(old, new) `max_failures` failures (none when either turns
//     the rule off) and a larger limit or window does not bring back older
//     ones (breaker_set.h: "a smaller window keeps the newest failures").
//     Each counted failure first forgets the failures outside its own window
//     (t - time_unit, t], so a window enlarged later does not bring those
//     back either (options.h: the history holds the failures in the window).
//   - Listeners hear a state change only when the raw state differs (an open
//     breaker past its deadline is still "open" until a probe is admitted).

#ifndef CIRCUIT_TESTS_MODEL_REFERENCE_MODEL_H_
#define CIRCUIT_TESTS_MODEL_REFERENCE_MODEL_H_

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/time/time.h"
#include "circuit/options.h"
#include "circuit/state.h"

namespace circuit::model {

inline constexpr std::int64_t kForever = std::numeric_limits<std::int64_t>::max();
inline constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::min();

enum class Outcome { kSuccess, kFailure, kIgnored };

inline std::int64_t Ns(absl::Duration d) { return absl::ToInt64Nanoseconds(d); }

// Saturating a + b and a - b: times far in the future or past stay ordered.
inline std::int64_t SatAdd(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? kForever : kNever;
  return r;
}
inline std::int64_t SatSub(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) return b < 0 ? kForever : kNever;
  return r;
}

// Whether the model covers `o` (the rules it does not model are off).
inline bool Supports(const BreakerOptions& o) {
  return o.failure_rate_threshold == 0 && o.slow_call_rate_threshold == 0 &&
         o.slow_call_duration == absl::ZeroDuration() &&
         o.backoff_multiplier == 1 && o.jitter == 0;
}

// The model's own reading of options.h's REQUIRES lines. Used to check
// `validate()` independently.
inline bool ModelValid(const BreakerOptions& o) {
  auto rate = [](double v) { return v == 0 || (v > 0 && v <= 1); };
  auto finite = [](absl::Duration d) {
    return d != absl::InfiniteDuration() && d != -absl::InfiniteDuration();
  };
  return o.max_failures >= 0 && o.time_unit > absl::ZeroDuration() &&
         finite(o.time_unit) && o.reset_timeout >= absl::ZeroDuration() &&
         finite(o.reset_timeout) && o.half_open_max_calls >= 1 &&
         o.half_open_max_calls <= 65535 && o.half_open_successes >= 1 &&
         o.consecutive_failures >= 0 && rate(o.failure_rate_threshold) &&
         o.minimum_calls >= 1 && o.window_buckets >= 1 &&
         o.window_buckets <= 1000 &&
         o.slow_call_duration >= absl::ZeroDuration() &&
         finite(o.slow_call_duration) && rate(o.slow_call_rate_threshold) &&
         (o.slow_call_rate_threshold == 0 ||
          o.slow_call_duration > absl::ZeroDuration()) &&
         o.backoff_multiplier >= 1 &&
         o.backoff_multiplier != std::numeric_limits<double>::infinity() &&
         o.max_reset_timeout >= o.reset_timeout && o.jitter >= 0 &&
         o.jitter < 1;
}

// One peer as the model sees it.
struct PeerModel {
  BreakerOptions options;
  State state = State::kClosed;  // raw: open stays open past its deadline
  std::uint64_t era = 0;          // bumped on every state change / control
  std::int64_t open_until = 0;    // meaningful while open
  std::vector<std::int64_t> failure_times;  // the window rule's history
  int run = 0;                    // consecutive counted failures (closed)
  int probe_successes = 0;        // in the current half-open period
  std::uint64_t successes = 0, failures = 0, ignored = 0, rejections = 0;
};

// One admitted call.
struct CallModel {
  std::string peer;
  std::uint64_t era = 0;
  bool probe = false;
  bool settled = false;
};

struct AdmitResult {
  bool admitted = false;
  bool probe = false;
  std::int64_t retry_after = 0;  // when rejected; kForever: forced open
  int call = -1;                 // when admitted: the call's id
};

class ReferenceModel {
 public:
  explicit ReferenceModel(BreakerOptions defaults, std::int64_t start = 0)
      : defaults_(defaults), now_(start) {}

  std::int64_t now() const { return now_; }
  void Advance(std::int64_t ns) { now_ = SatAdd(now_, ns); }

  // -------------------------------------------------------------------------
  // Admission and outcomes

  AdmitResult Admit(const std::string& name) {
    PeerModel& p = Get(name);
    AdmitResult r;
    switch (p.state) {
      case State::kClosed:
      case State::kDisabled:
        r.admitted = true;
        break;
      case State::kForcedOpen:
        r.retry_after = kForever;
        break;
      case State::kOpen:
        if (now_ < p.open_until) {
          r.retry_after = SatSub(p.open_until, now_);
          break;
        }
        // The open period is over: this call is the first probe.
        Change(name, p, State::kHalfOpen);
        p.probe_successes = 0;
        r.admitted = true;
        r.probe = true;
        break;
      case State::kHalfOpen:
        if (ProbesInFlight(name) < p.options.half_open_max_calls) {
          r.admitted = true;
          r.probe = true;
        }
        break;
    }
    if (!r.admitted) {
      ++p.rejections;
      return r;
    }
    r.call = static_cast<int>(calls_.size());
    calls_.push_back({name, p.era, r.probe, false});
    return r;
  }

  void Settle(int call, Outcome outcome) {
    CallModel& c = calls_.at(static_cast<std::size_t>(call));
    if (c.settled) return;  // later settles are no-ops
    c.settled = true;
    PeerModel& p = Get(c.peer);
    switch (outcome) {
      case Outcome::kSuccess: ++p.successes; break;
      case Outcome::kFailure: ++p.failures; break;
      case Outcome::kIgnored: ++p.ignored; break;
    }
    // Admitted before the last state change: counted, but moves nothing.
    if (c.era != p.era) return;
    if (p.state == State::kClosed) {
      if (outcome == Outcome::kSuccess) p.run = 0;
      if (outcome != Outcome::kFailure) return;
      ++p.run;
      bool trip = false;
      const BreakerOptions& o = p.options;
      if (o.max_failures != kUnlimited) {
        // Failures that a later failure finds outside its window are
        // forgotten, so the history never outgrows the window.
        const std::int64_t window = Ns(o.time_unit);
        std::erase_if(p.failure_times,
                      [&](std::int64_t f) { return f <= SatSub(now_, window); });
        p.failure_times.push_back(now_);
        if (CountWithin(p, now_) > o.max_failures) trip = true;
      }
      if (o.consecutive_failures > 0 && p.run >= o.consecutive_failures) {
        trip = true;
      }
      if (trip) Trip(c.peer, p);
      return;
    }
    if (p.state == State::kHalfOpen && c.probe) {
      if (outcome == Outcome::kFailure) {
        Trip(c.peer, p);  // the open period starts again at this failure
      } else if (outcome == Outcome::kSuccess &&
                 ++p.probe_successes >= p.options.half_open_successes) {
        CloseAndClear(c.peer, p);
      }
      // A settled probe (success below the target, or ignored) frees its slot
      // by no longer being in flight.
    }
    // Disabled: never trips.
  }

  // -------------------------------------------------------------------------
  // Manual control (each creates the peer and starts a new era)

  void Open(const std::string& name) {
    PeerModel& p = Get(name);
    Trip(name, p);
  }
  void Close(const std::string& name) {
    PeerModel& p = Get(name);
    CloseAndClear(name, p);
  }
  void HalfOpen(const std::string& name) {
    PeerModel& p = Get(name);
    Change(name, p, State::kHalfOpen);
    p.probe_successes = 0;
  }
  void ForceOpen(const std::string& name) {
    PeerModel& p = Get(name);
    Change(name, p, State::kForcedOpen);
  }
  void Disable(const std::string& name) {
    PeerModel& p = Get(name);
    Change(name, p, State::kDisabled);
  }

  // configure(): false (and nothing changes) when `o` is bad.
  bool Configure(const std::string& name, const BreakerOptions& o) {
    if (!ModelValid(o)) return false;
    overrides_[name] = o;
    auto it = peers_.find(name);
    if (it != peers_.end()) {
      PeerModel& p = it->second;
      auto room = [](const BreakerOptions& x) {
        return x.max_failures == kUnlimited ? std::size_t{0}
                                            : static_cast<std::size_t>(x.max_failures);
      };
      std::size_t keep = std::min(room(p.options), room(o));
      p.options = o;
      if (p.failure_times.size() > keep) {
        p.failure_times.erase(p.failure_times.begin(),
                              p.failure_times.end() - static_cast<long>(keep));
      }
    }
    return true;
  }

  // -------------------------------------------------------------------------
  // Observers

  bool Exists(const std::string& name) const { return peers_.count(name) != 0; }

  // What `state()` reads: unknown peers are closed; an open breaker past its
  // deadline reads half-open.
  State StateOf(const std::string& name) const {
    auto it = peers_.find(name);
    if (it == peers_.end()) return State::kClosed;
    const PeerModel& p = it->second;
    if (p.state == State::kOpen && now_ >= p.open_until) return State::kHalfOpen;
    return p.state;
  }

  const PeerModel* Find(const std::string& name) const {
    auto it = peers_.find(name);
    return it == peers_.end() ? nullptr : &it->second;
  }

  int ProbesInFlight(const std::string& name) const {
    auto it = peers_.find(name);
    if (it == peers_.end()) return 0;
    int n = 0;
    for (const CallModel& c : calls_) {
      if (!c.settled && c.probe && c.peer == name && c.era == it->second.era) ++n;
    }
    return n;
  }

  int FailuresInWindow(const std::string& name) const {
    const PeerModel* p = Find(name);
    return p == nullptr ? 0 : CountWithin(*p, now_);
  }

  const CallModel& call(int id) const {
    return calls_.at(static_cast<std::size_t>(id));
  }

  // Every reported state change so far, in order: (peer, from, to).
  const std::vector<std::tuple<std::string, State, State>>& changes() const {
    return changes_;
  }

 private:
  PeerModel& Get(const std::string& name) {
    auto it = peers_.find(name);
    if (it != peers_.end()) return it->second;
    PeerModel p;
    auto o = overrides_.find(name);
    p.options = o == overrides_.end() ? defaults_ : o->second;
    return peers_.emplace(name, p).first->second;
  }

  static int CountWithin(const PeerModel& p, std::int64_t t) {
    const std::int64_t window = Ns(p.options.time_unit);
    int n = 0;
    for (std::int64_t f : p.failure_times) {
      if (f > SatSub(t, window) && f <= t) ++n;
    }
    return n;
  }

  void Change(const std::string& name, PeerModel& p, State to) {
    if (p.state != to) changes_.emplace_back(name, p.state, to);
    p.state = to;
    ++p.era;
  }

  void Trip(const std::string& name, PeerModel& p) {
    Change(name, p, State::kOpen);
    p.open_until = SatAdd(now_, Ns(p.options.reset_timeout));
  }

  void CloseAndClear(const std::string& name, PeerModel& p) {
    Change(name, p, State::kClosed);
    p.failure_times.clear();
    p.run = 0;
    p.probe_successes = 0;
  }

  BreakerOptions defaults_;
  std::int64_t now_ = 0;
  std::map<std::string, PeerModel> peers_;
  std::map<std::string, BreakerOptions> overrides_;
  std::vector<CallModel> calls_;
  std::vector<std::tuple<std::string, State, State>> changes_;
};

}  // namespace circuit::model

#endif  // CIRCUIT_TESTS_MODEL_REFERENCE_MODEL_H_
