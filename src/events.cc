// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0

#include "events.h"

#include <algorithm>
#include <exception>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "arith.h"
#include "epoch.h"
#include "spdlog/spdlog.h"

namespace circuit::internal {
namespace {

// Open periods to the millisecond: jitter makes the exact value noise.
std::string DurationText(std::int64_t ns) {
  return absl::FormatDuration(
      absl::Trunc(absl::Nanoseconds(ns), absl::Milliseconds(1)));
}

}  // namespace

Events::Events(std::shared_ptr<spdlog::logger> logger,
               absl::Duration log_interval)
    : logger_(std::move(logger)),
      log_interval_ns_(absl::ToInt64Nanoseconds(log_interval)) {}

Events::~Events() {
  // No reader remains (contexts die before their set). The listeners go
  // with owned_, right after this, still inside the set's destructor.
  delete list_.load(std::memory_order_acquire);
}

void Events::AddListener(std::shared_ptr<Listener> listener) {
  if (listener == nullptr) return;
  MutexLock lock(&mu_);
  const List* old = list_.load(std::memory_order_acquire);
  auto fresh = std::make_unique<List>();
  if (old != nullptr) fresh->items.reserve(old->items.size() + 1);
  owned_.reserve(owned_.size() + 1);  // nothing below throws
  if (old != nullptr) fresh->items = old->items;
  fresh->items.push_back(listener.get());
  owned_.push_back(std::move(listener));
  list_.store(fresh.release(), std::memory_order_release);
  if (old != nullptr) Epoch::Retire(const_cast<List*>(old), &DeleteList);
}

void Events::DeleteList(void* p) noexcept { delete static_cast<const List*>(p); }

template <class F>
void Events::Dispatch(const char* event, std::string_view peer, F&& f) noexcept {
  const List* l = list_.load(std::memory_order_acquire);
  if (l == nullptr) [[likely]] return;
  for (Listener* listener : l->items) {
    try {
      f(*listener);
    } catch (const std::exception& e) {
      ListenerThrew(event, peer, e.what());
    } catch (...) {
      ListenerThrew(event, peer, "a non-standard exception");
    }
  }
}

void Events::ListenerThrew(const char* event, std::string_view peer,
                           const char* what) noexcept {
  std::uint64_t n = listener_errors_.fetch_add(1, std::memory_order_relaxed);
  if (logger_ == nullptr || n % 1000 != 0) return;
  try {
    logger_->error(
        "circuit: a listener threw from {}({}): {} (ignored; {} listener "
        "errors so far)",
        event, peer, what, n + 1);
  } catch (...) {
  }
}

void Events::BeforeCall(std::string_view peer) noexcept {
  Dispatch("before_call", peer, [&](Listener& l) { l.before_call(peer); });
}
void Events::Success(std::string_view peer) noexcept {
  Dispatch("success", peer, [&](Listener& l) { l.success(peer); });
}
void Events::Failure(std::string_view peer) noexcept {
  Dispatch("failure", peer, [&](Listener& l) { l.failure(peer); });
}
void Events::Rejected(std::string_view peer) noexcept {
  Dispatch("rejected", peer, [&](Listener& l) { l.rejected(peer); });
}

void Events::StateChange(std::string_view peer, const Transition& t) noexcept {
  if (!t.happened) return;
  LogDecision d;
  if (logger_ != nullptr) d = Coalesce(peer, t);
  if (logger_ != nullptr && d.log) {
    try {
      std::string suppressed;
      if (d.suppressed > 0) {
        suppressed = " (" + std::to_string(d.suppressed) +
                     " earlier transitions of this peer not logged: flapping)";
      }
      if (t.to == State::kOpen) {
        logger_->warn("circuit: peer {} {} -> open for {}{}", peer,
                      state_name(t.from), DurationText(t.open_for_ns),
                      suppressed);
      } else {
        logger_->info("circuit: peer {} {} -> {}{}", peer, state_name(t.from),
                      state_name(t.to), suppressed);
      }
    } catch (...) {
      // Logging must never break a call.
    }
  }
  Dispatch("state_change", peer,
           [&](Listener& l) { l.state_change(peer, t.from, t.to); });
}

Events::LogDecision Events::Coalesce(std::string_view peer,
                                     const Transition& t) noexcept {
  LogDecision d;
  if (t.manual || log_interval_ns_ <= 0) return d;
  const std::int64_t now = t.at_ns;
  try {
    MutexLock lock(&flap_mu_);
    Flap& f = flaps_[absl::string_view(peer.data(), peer.size())];
    const bool interval_passed =
        !f.logged_a_trip || SatSub(now, f.last_logged_trip_ns) >= log_interval_ns_;
    if (t.to == State::kOpen) {
      d.log = interval_passed;
      f.cycle_logged = d.log;
    } else if (t.to == State::kClosed) {
      d.log = f.cycle_logged || interval_passed;
    } else {
      d.log = f.cycle_logged;
    }
    if (d.log) {
      if (t.to == State::kOpen) {
        f.last_logged_trip_ns = now;
        f.logged_a_trip = true;
      }
      d.suppressed = f.suppressed;
      f.suppressed = 0;
    } else {
      ++f.suppressed;
    }
    if (flaps_.size() >= prune_at_) PruneFlapsLocked(now);
  } catch (...) {
    // No memory for the peer's state: log the line.
    d = LogDecision{};
  }
  return d;
}

void Events::PruneFlapsLocked(std::int64_t now_ns) {
  absl::erase_if(flaps_, [&](const auto& kv) {
    const Flap& f = kv.second;
    return f.suppressed == 0 && f.cycle_logged &&
           (!f.logged_a_trip ||
            SatSub(now_ns, f.last_logged_trip_ns) >= log_interval_ns_);
  });
  prune_at_ = std::max<std::size_t>(64, 2 * flaps_.size());
}

void Events::Probe(std::string_view peer) noexcept {
  if (logger_ == nullptr) return;
  try {
    logger_->debug("circuit: peer {} probe admitted", peer);
  } catch (...) {
  }
}

void Events::Ejected(std::string_view peer, std::string_view reason,
                     bool enforced) noexcept {
  std::string text;
  try {
    text = enforced ? std::string(reason) : "would eject: " + std::string(reason);
  } catch (...) {
    return;  // no memory for the words
  }
  if (logger_ != nullptr) {
    try {
      if (enforced) {
        logger_->warn("circuit: peer {} ejected: {}", peer, reason);
      } else {
        logger_->warn("circuit: peer {} would be ejected (detect only): {}",
                      peer, reason);
      }
    } catch (...) {
    }
  }
  Dispatch("ejected", peer, [&](Listener& l) { l.ejected(peer, text); });
}

void Events::TripSuppressed(std::string_view peer, std::int64_t now_ns,
                            std::int64_t open, std::int64_t limit,
                            double fraction) noexcept {
  if (logger_ != nullptr) {
    std::int64_t last = last_suppressed_log_ns_.load(std::memory_order_relaxed);
    const bool due = last == INT64_MIN || log_interval_ns_ <= 0 ||
                     SatSub(now_ns, last) >= log_interval_ns_;
    if (due && last_suppressed_log_ns_.compare_exchange_strong(
                   last, now_ns, std::memory_order_relaxed)) {
      const std::uint64_t unlogged =
          suppressed_unlogged_.exchange(0, std::memory_order_relaxed);
      try {
        logger_->warn(
            "circuit: peer {} trip suppressed: {} peers open, the limit is {} "
            "(max_open_fraction {}){}",
            peer, open, limit, fraction,
            unlogged == 0 ? std::string()
                          : " (" + std::to_string(unlogged) +
                                " earlier suppressed trips, of any peer, not "
                                "logged)");
      } catch (...) {
      }
    } else {
      suppressed_unlogged_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  Dispatch("trip_suppressed", peer,
           [&](Listener& l) { l.trip_suppressed(peer); });
}

void Events::Warn(std::string_view what) noexcept {
  if (logger_ == nullptr) return;
  try {
    logger_->warn("circuit: {}", what);
  } catch (...) {
  }
}

}  // namespace circuit::internal
