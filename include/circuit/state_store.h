// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// -----------------------------------------------------------------------------
// File: state_store.h
// -----------------------------------------------------------------------------
//
// `StateStore` is how a `CircuitBreakerSet` shares its peers' breakers with
// sets in other processes. The core knows only this interface; the Redis
// implementation is in circuit/redis_store.h. Without a store
// (`SetOptions::store` null, the default) every set is local.
//
// The set calls the store on its slow paths only (counted failures and state
// changes, never a closed-state success), and those calls must not block:
// a store queues what it is told and talks to its backend on its own thread.
// The store tells the set what the fleet decided through `StoreSink`.
//
// Thread safety: every member may be called concurrently.

#ifndef CIRCUIT_STATE_STORE_H_
#define CIRCUIT_STATE_STORE_H_

#include <cstdint>
#include <string_view>

#include "absl/time/time.h"
#include "circuit/options.h"
#include "circuit/state.h"

namespace circuit {

// StoreSink
//
// Implemented by the set; the store calls it from its own thread, holding
// none of the locks that `attach()` and `detach()` take, so `apply_remote()`
// (and the listeners it reaches) may call back into the set and the store,
// including attaching and detaching other sinks.
class StoreSink {
 public:
  virtual ~StoreSink() = default;

  // StoreSink::apply_remote()
  //
  // The fleet decided that `peer` is in `state` (`kOpen`, `kHalfOpen`,
  // `kClosed` or `kForcedOpen`); for `kOpen`, `remaining` is what is left of
  // the open period. `epoch` orders decisions per peer. Ordering is the
  // store's job: it delivers each peer's decisions in epoch order and drops
  // stale ones; the set applies them as they come (an open period is only
  // ever extended, never shortened; half-open is decided by local probes).
  virtual void apply_remote(std::string_view peer, State state,
                            absl::Duration remaining, std::uint64_t epoch) = 0;
};

// StateStore
//
// A shared home for breaker state. See the file comment.
class StateStore {
 public:
  virtual ~StateStore() = default;

  // StateStore::attach()
  //
  // Called once by each set that uses the store, from its constructor, with
  // the set's default policy. The store may call `sink` from then on.
  virtual void attach(StoreSink* sink, const BreakerOptions& defaults) = 0;

  // StateStore::detach()
  //
  // Called by the set's destructor. After it returns the store never calls
  // `sink` again. It waits for a call to `sink` in flight on another thread,
  // and for nothing else: never for another sink's call. Called from inside
  // `sink`'s own `apply_remote()` (on the store's thread), it returns at
  // once and the store makes no further call; the sink object must then
  // stay valid until that `apply_remote()` returns.
  virtual void detach(StoreSink* sink) = 0;

  // StateStore::record_failure()
  //
  // A counted failure of a call to `peer` at `at` (the set's clock). Must not
  // block.
  virtual void record_failure(std::string_view peer, absl::Time at) = 0;

  // StateStore::record_transition()
  //
  // This process moved `peer` from `from` to `to`; for `kOpen`, `open_for` is
  // the open period it chose. Must not block.
  virtual void record_transition(std::string_view peer, State from, State to,
                                 absl::Duration open_for) = 0;

  // StateStore::healthy()
  //
  // Whether the backend is reachable now (for logs and metrics).
  virtual bool healthy() const = 0;
};

}  // namespace circuit

#endif  // CIRCUIT_STATE_STORE_H_
