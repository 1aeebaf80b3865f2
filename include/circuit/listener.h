// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// -----------------------------------------------------------------------------
// File: listener.h
// -----------------------------------------------------------------------------
//
// A `Listener` hears what happens to every peer of a set: admissions,
// outcomes, rejections and state changes (pybreaker's listeners).
//
// Listeners are called on the thread that caused the event, outside every
// lock of the library, so they may call back into the set. An exception a
// listener throws is caught and logged and changes nothing; a listener that
// blocks delays only the call that triggered it. The peer view is valid only
// for the duration of the call.
//
// Lifetime: the set keeps a reference to each listener added to it and
// drops them all in its destructor, on the thread that destroys the set, so
// a listener may refer to anything that outlives the set.
//
// Example:
//
//   struct TripCounter : circuit::Listener {
//     void state_change(std::string_view peer, circuit::State from,
//                       circuit::State to) override {
//       if (to == circuit::State::kOpen) ++trips;
//     }
//     std::atomic<int> trips{0};
//   };
//   set.add_listener(std::make_shared<TripCounter>());

#ifndef CIRCUIT_LISTENER_H_
#define CIRCUIT_LISTENER_H_

#include <string_view>

#include "circuit/state.h"

namespace circuit {

// Listener
//
// Base class with no-op virtuals; override what you need.
class Listener {
 public:
  virtual ~Listener() = default;

  // A call to `peer` was admitted (before the caller's code runs).
  virtual void before_call(std::string_view peer) { (void)peer; }

  // An admitted call to `peer` was recorded as a success.
  virtual void success(std::string_view peer) { (void)peer; }

  // An admitted call to `peer` was recorded as a counted failure.
  virtual void failure(std::string_view peer) { (void)peer; }

  // A call to `peer` was rejected.
  virtual void rejected(std::string_view peer) { (void)peer; }

  // The breaker of `peer` went from `from` to `to`. Called after the outcome
  // event that caused it.
  virtual void state_change(std::string_view peer, State from, State to) {
    (void)peer;
    (void)from;
    (void)to;
  }

  // Outlier detection judged `peer` much worse than the other peers, for
  // `reason` (for example "median latency 48ms vs 9ms across 7 peers").
  // Called before the state change of the ejection. With
  // `OutlierOptions::enforce` false, the reason starts with "would eject: "
  // and no state change follows.
  virtual void ejected(std::string_view peer, std::string_view reason) {
    (void)peer;
    (void)reason;
  }

  // A trip of `peer` (by its trip rules, or an ejection) was suppressed by
  // `SetOptions::max_open_fraction`: its breaker stays closed.
  virtual void trip_suppressed(std::string_view peer) { (void)peer; }
};

}  // namespace circuit

#endif  // CIRCUIT_LISTENER_H_
