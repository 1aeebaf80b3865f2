// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// FleetView: the store's side as the flusher and the subscriber see it.
// They decode what Redis says (protocol.h) and hand it over here; the store
// decides what is new, turns it into local states and delivers it to the
// attached sets.

#ifndef CIRCUIT_SRC_REDIS_FLEET_VIEW_H_
#define CIRCUIT_SRC_REDIS_FLEET_VIEW_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "redis/protocol.h"

namespace circuit::internal::redis {

// Reapply
//
// Which decisions are applied again when their epoch equals the one already
// known: all of a snapshot's (a set attached since needs them), and a
// flush's answers to lease requests (a refused one puts a process that
// turned half-open back to open, at the epoch it already knew).
struct Reapply {
  bool all = false;
  const absl::flat_hash_set<std::string>* peers = nullptr;  // hex ids

  bool covers(const Update& u) const {
    return all || (peers != nullptr && peers->contains(u.hex));
  }
};

// What this process believes about the fleet, for a snapshot call.
struct Beliefs {
  std::string incarnation;
  std::vector<std::string> not_closed;  // raw ids
};

class FleetView {
 public:
  virtual ~FleetView() = default;

  // FleetView::Deliver()
  //
  // Applies `batch`'s decisions in order: those newer than the ones known
  // (or as new, per `reapply`) reach every attached set. Called from the
  // flusher and the subscriber threads, holding none of their locks.
  virtual void Deliver(const Updates& batch, Reapply reapply) = 0;

  // FleetView::Believed()
  //
  // The incarnation known and at most `max` peers believed not closed.
  virtual Beliefs Believed(std::size_t max) = 0;
};

}  // namespace circuit::internal::redis

#endif  // CIRCUIT_SRC_REDIS_FLEET_VIEW_H_
