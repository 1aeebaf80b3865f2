// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// What RedisStore says to the scripts in scripts.h and how it reads their
// answers: the one place where the wire forms (single characters for fleet
// states and report kinds, lowercase hex peer ids, the pub/sub message
// format) are written and read. Everything above this unit holds the typed
// values (`FleetState`, `ReportKind`, `Update`); a reply or message that
// does not fit the schema is rejected here with an error saying what is
// wrong with it, and nothing of it is applied.
//
// No I/O and no state: every function is pure and may be called from any
// thread.

#ifndef CIRCUIT_SRC_REDIS_PROTOCOL_H_
#define CIRCUIT_SRC_REDIS_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <hiredis/hiredis.h>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "circuit/options.h"
#include "circuit/redis_store.h"
#include "circuit/state.h"

namespace circuit::internal::redis {

// FleetState
//
// A peer's state as Redis holds it (the `st` field of `{P}:p:<Q>`).
// Wire: 'c', 'o', 'h'.
enum class FleetState : std::uint8_t { kClosed, kOpen, kHalfOpen };

// ReportKind
//
// What one op of the flush script reports about a peer. Wire: 'f' (counted
// failures), 't' (local trip), 'h' (local half-open: asks for the probe
// lease), 'c' (local close), 'r' (local re-open).
enum class ReportKind : std::uint8_t { kFailures, kTrip, kHalfOpen, kClose, kReopen };

// The wire characters, and back. A `FromWire` function accepts exactly one
// of the characters above and nothing else (not the empty string, not two
// characters, not upper case).
char ToWire(FleetState state);
char ToWire(ReportKind kind);
std::optional<FleetState> FleetStateFromWire(std::string_view s);
std::optional<ReportKind> ReportKindFromWire(std::string_view s);

// ReportKindFor()
//
// The report a local transition `from` -> `to` makes, or none: forced-open
// and disabled are process-local overrides, and a manual half-open from
// closed has no fleet meaning.
std::optional<ReportKind> ReportKindFor(State from, State to);

// Peer ids travel as lowercase hex (`Q`), so any bytes fit in a key and a
// message field. `Unhex` accepts only what `Hex` writes for a non-empty id.
std::string Hex(std::string_view raw);
bool Unhex(std::string_view hex, std::string* raw);

// Keys
//
// The names one `key_prefix` uses; see scripts.h.
struct Keys {
  explicit Keys(std::string_view key_prefix);

  std::string tag;      // "{prefix}", the hash tag every name starts with
  std::string meta;     // incarnation and epoch counter
  std::string open;     // index of the peers not closed
  std::string channel;  // transitions are published here
};

// Update
//
// One fleet decision about one peer, from a reply or a message.
struct Update {
  std::string peer;  // raw id
  std::string hex;   // the id as Redis holds it
  FleetState state = FleetState::kClosed;
  std::uint64_t epoch = 0;
  std::int64_t remaining_ms = 0;  // of the open period or the probe lease
  std::string prober;             // instance id of the deciding process
};

// Updates
//
// Decisions that share one incarnation of Redis's data, in order.
struct Updates {
  std::string incarnation;
  std::vector<Update> updates;
};

// Parsing. Each returns `kInvalidArgument` naming what did not fit.
//
// ParseFlushReply(): the flush script's {inc, (Q, st, ep, rem, prober)*}.
absl::StatusOr<Updates> ParseFlushReply(const redisReply* reply);

// ParseSnapshotReply(): the snapshot script's reply, of the same form, or
// {""} when Redis holds no state: then `incarnation` is empty and there are
// no updates.
absl::StatusOr<Updates> ParseSnapshotReply(const redisReply* reply);

// ParseMessage(): one pub/sub payload, `1|<inc>|<st>|<ep>|<rem>|<prober>|<Q>`.
absl::StatusOr<Updates> ParseMessage(std::string_view payload);

// What arrives on the subscribed connection.
enum class PushKind {
  kMessage,     // a message on the channel; `payload` is its body
  kPong,        // the answer to a keepalive PING
  kSubscribed,  // the confirmation of SUBSCRIBE
  kError,       // an error reply: the connection is of no more use
  kOther,       // anything else, ignored
};
struct Push {
  PushKind kind = PushKind::kOther;
  std::string_view payload;  // points into the reply
};
Push ClassifyPush(const redisReply* reply);

// An error reply's text (empty for any other reply).
std::string_view ErrorText(const redisReply* reply);

// Whether `reply` says the script is not in the server's cache (restart,
// failover, SCRIPT FLUSH): the script did not run.
bool IsNoScript(const redisReply* reply);

// Whether `reply` answers SCRIPT LOAD with a SHA-1.
bool IsScriptSha(const redisReply* reply);

// Where the script's SHA-1 stands in the arguments built below.
inline constexpr std::size_t kShaArg = 1;

// Op
//
// One thing this process tells the flush script about one peer.
struct Op {
  ReportKind kind = ReportKind::kFailures;
  std::string peer;         // raw id
  std::int64_t n = 0;       // failures (kFailures), open ms (kTrip, kReopen)
  std::string known_inc;    // the incarnation `known_epoch` belongs to
  std::int64_t known_epoch = -1;  // the latest epoch seen, -1 for none
};

// FlushCall
//
// The arguments of one EVALSHA of the flush script: the fleet policy, then
// the ops added.
class FlushCall {
 public:
  // `policy`: the fleet's breaker options (the first attached set's).
  FlushCall(const std::string& sha, const Keys& keys, const std::string& instance,
            const BreakerOptions& policy, const RedisOptions& options);

  void Add(const Op& op);

  // Back to no ops, keeping the policy.
  void Clear();

  // Ops added since the last Clear().
  int ops() const { return ops_; }

  // The peers (hex) whose op asked for the probe lease: their answer is
  // applied even when its epoch is the one already known.
  const absl::flat_hash_set<std::string>& lease_requests() const {
    return lease_requests_;
  }

  std::vector<std::string>& args() { return args_; }

 private:
  std::size_t head_size_ = 0;
  std::vector<std::string> args_;
  absl::flat_hash_set<std::string> lease_requests_;
  int ops_ = 0;
};

// The most believed peers one snapshot call names: with its seven fixed
// arguments, 1024 in all. Peers beyond it are still covered by the open
// index when they are open; a close of one is then learnt from its message.
inline constexpr std::size_t kMaxBelievedPeers = 1024 - 7;

// SnapshotCall()
//
// The arguments of one EVALSHA of the snapshot script. `believed`: raw ids
// of the peers this process believes are not closed; those beyond
// `kMaxBelievedPeers` are left out.
std::vector<std::string> SnapshotCall(const std::string& sha, const Keys& keys,
                                      const std::string& known_inc,
                                      const std::vector<std::string>& believed);

}  // namespace circuit::internal::redis

#endif  // CIRCUIT_SRC_REDIS_PROTOCOL_H_
