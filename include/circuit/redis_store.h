// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// -----------------------------------------------------------------------------
// File: redis_store.h
// -----------------------------------------------------------------------------
//
// `circuit::RedisStore` shares each peer's breaker between every
// `CircuitBreakerSet`, in any number of processes, whose store points at the
// same Redis with the same `key_prefix`. Failures recorded anywhere count in
// one fleet-wide window, a trip anywhere is seen everywhere within about one
// pub/sub delivery, and a set started later learns what is open now.
//
// How it works. The hot path never talks to Redis: a closed-state success
// does no store work at all, and a failure or a state change only adds to an
// in-memory batch (a short mutex, no I/O). Two background threads per store
// do the rest: the flusher sends the batch in one `EVALSHA` per
// `flush_interval`, and at once when a failure arrives (at most one flush
// per `expedite_delay`); a Lua
// script adds the failures to the peer's fleet window (buckets on Redis's
// own clock), decides a trip atomically, bumps the peer's *epoch* (a
// fencing token) and `PUBLISH`es the transition in the same step. The
// subscriber thread applies every published transition whose epoch is newer
// than the one it knows, and resynchronises from a snapshot after every
// (re)subscribe and every `resync_interval`.
//
// Consistency guaranteed, plainly:
//   1. No call to the set ever waits on Redis. Admission uses the local
//      view, which may be stale by one flush plus one delivery.
//   2. While Redis is reachable, each peer's fleet transitions are decided
//      one at a time inside Redis and carry strictly increasing epochs; a
//      process applies a transition at most once, ignores any older than
//      one it has seen, and a stale process's report (a close or re-open
//      decided on an epoch the fleet has moved past) is refused by the
//      script, so it cannot undo a newer decision.
//   3. Fleet window: with the window rule on, the fleet trips when more
//      than the defaults' `max_failures` counted failures, summed over all
//      processes, fall within `time_unit` (ten buckets; window edges are
//      exact to a tenth of `time_unit`), and at least `min_reporters`
//      distinct processes reported failures in that window. A process's
//      local trip (any rule) is also reported and trips the fleet under the
//      same quorum. Counts may be lost (a batch dropped by a timeout) but
//      are never counted twice. Per-peer options (`configure`,
//      `options_for`) apply to local decisions; the fleet rule uses the
//      defaults of the first set attached to the store.
//   4. Visibility: a trip is delivered to every subscribed process one
//      pub/sub hop after the deciding flush (sub-millisecond on loopback);
//      if that message is lost, within `resync_interval`.
//   5. Half-open probes, fleet-wide: each fleet trip names one *prober*, the
//      process whose report tripped it. The prober's open period is the
//      fleet's; every other process stays open up to `probe_lease` (plus a
//      per-process jitter) longer, waiting for the prober's verdict, which
//      closes or re-opens the peer everywhere. A process that turns
//      half-open asks the script for the probe lease; a refused one is put
//      back to open. So with an active prober one process probes per
//      half-open period; probes of processes whose deadlines fall within one
//      flush round trip of each other may overlap (each still limited to its
//      own `half_open_max_calls`); a prober that died costs the fleet at
//      most `probe_lease`.
//   6. While Redis is down, slow or answering garbage there is no fleet
//      coordination: every set is a local breaker set with unchanged rules.
//      Redis's own errors never count as peer failures. Opens learned
//      earlier stay until their deadlines.
//   7. When Redis returns the store reconnects (exponential backoff with
//      full jitter), reloads its scripts, resubscribes and resynchronises;
//      if Redis lost its data (restart without persistence, FLUSHALL,
//      failover) local opens stay until their deadlines and the fleet
//      re-trips from fresh failures.
//   8. Fleet times (windows, open periods, leases) use Redis's clock only;
//      only remaining durations cross the wire.
//
// Not shared: `force_open()` and `disable()` (process-local overrides),
// manual `half_open()`, success counts (rate rules are local), listener
// events other than state changes.
//
// Fork: build the store after `fork()`; a store never survives into a child.
// Requires Redis >= 5 (scripts read `TIME` and then write). No TLS (hiredis
// 0.14); use a local TLS tunnel when needed.
//
// Thread safety: every member may be called concurrently. Destroying the
// store joins its threads, which waits at most for the I/O in flight (one
// connect plus a few commands, each bounded by its timeout).
//
// Listeners. Fleet decisions reach each set's listeners on the store's
// threads, one set after another. A listener that blocks holds up the store
// thread it runs on (later deliveries to every set on the store and, on the
// flusher, later flushes) and the destructor of its own set, which waits
// for a delivery to that set in flight; nothing else waits on it: not the
// calls to any set, nor other sets' destructors. A listener may call back
// into its set and the store, and may build and destroy other sets on the
// same store; it must not destroy the set it is a listener of.
//
// Example:
//
//   circuit::RedisOptions r;
//   r.host = "10.0.0.5";
//   r.key_prefix = "checkout-upstreams";
//   circuit::SetOptions options;
//   options.store = std::make_shared<circuit::RedisStore>(r);
//   circuit::CircuitBreakerSet set(options);   // never waits for Redis

#ifndef CIRCUIT_REDIS_STORE_H_
#define CIRCUIT_REDIS_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "circuit/options.h"
#include "circuit/state.h"
#include "circuit/state_store.h"

namespace spdlog {
class logger;
}  // namespace spdlog

namespace circuit {

// RedisOptions
//
// Where the shared state lives and how the store talks to it.
struct RedisOptions {
  // -------------------
  // Server

  // Host name or address of the Redis server. Default: "127.0.0.1".
  std::string host = "127.0.0.1";

  // TCP port. Default: 6379.  REQUIRES: 1..65535.
  int port = 6379;

  // Sent with `AUTH` after connecting when not empty. Default: none.
  std::string password;

  // Names the shared breaker set: every key and the channel start with
  // `{<key_prefix>}` (one Redis Cluster slot). Sets share breakers exactly
  // when they share the server and this prefix. Default: "circuit".
  // REQUIRES: 1..128 bytes, no '{', '}', spaces or control characters.
  std::string key_prefix = "circuit";

  // -------------------
  // Timeouts

  // Upper bound on one TCP connect. Default: 100 ms.  REQUIRES: > 0.
  absl::Duration connect_timeout = absl::Milliseconds(100);

  // Upper bound on one command's reply, and on the subscriber's keepalive
  // `PING`; a connection that misses it is dropped and reopened (a hung or
  // SIGSTOPped server still accepts connections). Default: 100 ms.
  // REQUIRES: > 0.
  absl::Duration command_timeout = absl::Milliseconds(100);

  // -------------------
  // Batching

  // How often pending reports are flushed when nothing is urgent.
  // Default: 100 ms.  REQUIRES: > 0.
  absl::Duration flush_interval = absl::Milliseconds(100);

  // Failures and state changes are flushed at once, but never sooner than
  // this after the previous flush (those that arrive meanwhile are
  // coalesced), which bounds the flush rate under a failure storm.
  // Default: 2 ms.  REQUIRES: >= 0 and <= flush_interval.
  absl::Duration expedite_delay = absl::Milliseconds(2);

  // Peers per script call; larger batches are split. Default: 128.
  // REQUIRES: 1..4096.
  int batch_max_peers = 128;

  // Peers with unflushed failures kept while Redis is unreachable; failures
  // of further peers are counted locally only. Default: 65536.
  // REQUIRES: >= 1.
  int max_pending_peers = 65536;

  // -------------------
  // Coordination

  // A fleet trip needs failures from at least this many distinct processes
  // in the window; 1 turns the quorum off. With 2 or more, one sick caller
  // trips only its own process (its local breaker still protects it).
  // Default: 1.  REQUIRES: >= 1.
  int min_reporters = 1;

  // How long the designated prober has to report its verdict before other
  // processes may probe. Default: 1 s.  REQUIRES: > 0.
  absl::Duration probe_lease = absl::Seconds(1);

  // Full snapshot resynchronisation period (catches lost pub/sub messages),
  // besides the one after every resubscribe. Default: 5 s.  REQUIRES: > 0.
  absl::Duration resync_interval = absl::Seconds(5);

  // Subscriber keepalive `PING` period. Default: 1 s.  REQUIRES: > 0.
  absl::Duration keepalive_interval = absl::Seconds(1);

  // Reconnect backoff: full jitter over base * 2^attempt, capped.
  // Default: 50 ms and 5 s.  REQUIRES: 0 < backoff_base <= backoff_max.
  absl::Duration backoff_base = absl::Milliseconds(50);
  absl::Duration backoff_max = absl::Seconds(5);

  // -------------------
  // Observability

  // Receives one line per backend state change (down at warn, recovered at
  // info); null: silent.
  std::shared_ptr<spdlog::logger> logger;

  // RedisOptions::validate()
  //
  // OK, or `kInvalidArgument` whose message names the first bad field.
  absl::Status validate() const;
};

// RedisStats
//
// Counters since the store was built (for metrics, tests and benchmarks).
struct RedisStats {
  std::uint64_t commands = 0;       // commands sent, both connections
  std::uint64_t flushes = 0;        // flush script calls that succeeded
  std::uint64_t errors = 0;         // I/O, protocol, timeout and reply errors
  std::uint64_t reconnects = 0;     // successful (re)connects, both links
  std::uint64_t messages = 0;       // transition messages received
  std::uint64_t applied = 0;        // fleet decisions handed to the sets
  std::uint64_t dropped = 0;        // reports dropped (stale, overflow)
  std::uint64_t resyncs = 0;        // snapshot resynchronisations
};

// RedisStore
//
// A `StateStore` backed by Redis. See the file comment for what it
// guarantees.
class RedisStore final : public StateStore {
 public:
  // RedisStore::RedisStore()
  //
  // Starts the background threads and returns at once: it never waits for
  // Redis, and Redis being down is not an error. Throws
  // `std::invalid_argument` carrying `options.validate()`'s message when the
  // options are bad.
  explicit RedisStore(RedisOptions options);

  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

  // Stops the threads (bounded by the timeouts of the I/O in flight).
  ~RedisStore() override;

  // StateStore
  void attach(StoreSink* sink, const BreakerOptions& defaults) override;
  void detach(StoreSink* sink) override;
  void record_failure(std::string_view peer, absl::Time at) override;
  void record_transition(std::string_view peer, State from, State to,
                         absl::Duration open_for) override;

  // RedisStore::healthy()
  //
  // Both connections are up, the scripts are loaded and the subscription is
  // live.
  bool healthy() const override;

  // RedisStore::stats()
  //
  // A snapshot of the counters.
  RedisStats stats() const;

  // RedisStore::instance_id()
  //
  // This store's random id, as it appears in Redis (reporters, probers).
  const std::string& instance_id() const noexcept;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace circuit

#endif  // CIRCUIT_REDIS_STORE_H_
