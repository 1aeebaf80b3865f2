// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0

#include "redis/protocol.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace circuit::internal::redis {
namespace {

// The flush script's window is this many buckets wide.
constexpr int kWindowBuckets = 10;

// Remaining durations beyond a year are garbage; they are clamped rather
// than trusted (an absl::Duration would take them, a set's deadline not).
constexpr std::int64_t kMaxRemainingMs = 86400000LL * 366;

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

bool IsString(const redisReply* r) {
  return r != nullptr &&
         (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

std::string_view StrOf(const redisReply* r) { return {r->str, r->len}; }

const char* TypeName(const redisReply* r) {
  if (r == nullptr) return "nothing";
  switch (r->type) {
    case REDIS_REPLY_STRING: return "a string";
    case REDIS_REPLY_ARRAY: return "an array";
    case REDIS_REPLY_INTEGER: return "an integer";
    case REDIS_REPLY_NIL: return "nil";
    case REDIS_REPLY_STATUS: return "a status";
    case REDIS_REPLY_ERROR: return "an error";
    default: return "an unknown type";
  }
}

// A bounded, printable rendering of untrusted bytes for an error message.
std::string Quote(std::string_view s) {
  constexpr std::size_t kShown = 40;
  std::string out = absl::StrCat(
      "\"", absl::CHexEscape(Absl(s.substr(0, kShown))), "\"");
  if (s.size() > kShown) absl::StrAppend(&out, "...");
  return out;
}

absl::Status Bad(std::string_view what, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(Absl(what), ": ", Absl(why)));
}

// Reads {inc, (Q, st, ep, rem, prober)*}; `what` names the reply in errors.
absl::StatusOr<Updates> ParseDecisions(const redisReply* r, std::string_view what) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY) {
    return Bad(what, absl::StrCat("expected an array, got ", TypeName(r)));
  }
  if (r->elements < 1 || (r->elements - 1) % 5 != 0) {
    return Bad(what, absl::StrCat(r->elements, " elements; expected the "
                                  "incarnation and 5 per peer"));
  }
  const redisReply* inc = r->element[0];
  if (!IsString(inc) || inc->len == 0 || inc->len > 64) {
    return Bad(what, absl::StrCat("the incarnation is ", TypeName(inc),
                                  ", not a string of 1..64 bytes"));
  }
  Updates out;
  out.incarnation = std::string(StrOf(inc));
  out.updates.reserve((r->elements - 1) / 5);
  for (std::size_t i = 1; i < r->elements; i += 5) {
    std::string at = absl::StrCat(Absl(what), ", peer ", (i - 1) / 5);
    const redisReply* q = r->element[i];
    const redisReply* st = r->element[i + 1];
    const redisReply* ep = r->element[i + 2];
    const redisReply* rem = r->element[i + 3];
    const redisReply* pr = r->element[i + 4];
    Update u;
    if (!IsString(q) || !Unhex(StrOf(q), &u.peer)) {
      return Bad(at, IsString(q) ? absl::StrCat("id ", Quote(StrOf(q)),
                                                " is not lowercase hex")
                                 : absl::StrCat("id is ", TypeName(q)));
    }
    u.hex = std::string(StrOf(q));
    std::optional<FleetState> state =
        IsString(st) ? FleetStateFromWire(StrOf(st)) : std::nullopt;
    if (!state) {
      return Bad(at, IsString(st) ? absl::StrCat("state ", Quote(StrOf(st)),
                                                 " is not c, o or h")
                                  : absl::StrCat("state is ", TypeName(st)));
    }
    u.state = *state;
    if (ep->type != REDIS_REPLY_INTEGER || ep->integer < 0) {
      return Bad(at, "the epoch is not an integer >= 0");
    }
    if (rem->type != REDIS_REPLY_INTEGER || rem->integer < 0) {
      return Bad(at, "the remaining time is not an integer >= 0");
    }
    if (!IsString(pr)) {
      return Bad(at, absl::StrCat("the prober is ", TypeName(pr)));
    }
    u.epoch = static_cast<std::uint64_t>(ep->integer);
    u.remaining_ms = std::min<std::int64_t>(rem->integer, kMaxRemainingMs);
    u.prober = std::string(StrOf(pr));
    out.updates.push_back(std::move(u));
  }
  return out;
}

}  // namespace

char ToWire(FleetState state) {
  switch (state) {
    case FleetState::kClosed: return 'c';
    case FleetState::kOpen: return 'o';
    case FleetState::kHalfOpen: return 'h';
  }
  return '?';
}

char ToWire(ReportKind kind) {
  switch (kind) {
    case ReportKind::kFailures: return 'f';
    case ReportKind::kTrip: return 't';
    case ReportKind::kHalfOpen: return 'h';
    case ReportKind::kClose: return 'c';
    case ReportKind::kReopen: return 'r';
  }
  return '?';
}

std::optional<FleetState> FleetStateFromWire(std::string_view s) {
  for (FleetState st : {FleetState::kClosed, FleetState::kOpen, FleetState::kHalfOpen}) {
    if (s.size() == 1 && s[0] == ToWire(st)) return st;
  }
  return std::nullopt;
}

std::optional<ReportKind> ReportKindFromWire(std::string_view s) {
  for (ReportKind k : {ReportKind::kFailures, ReportKind::kTrip, ReportKind::kHalfOpen,
                       ReportKind::kClose, ReportKind::kReopen}) {
    if (s.size() == 1 && s[0] == ToWire(k)) return k;
  }
  return std::nullopt;
}

std::optional<ReportKind> ReportKindFor(State from, State to) {
  if (to == State::kOpen && from == State::kClosed) return ReportKind::kTrip;
  if (to == State::kOpen && from == State::kHalfOpen) return ReportKind::kReopen;
  if (to == State::kHalfOpen && from == State::kOpen) return ReportKind::kHalfOpen;
  if (to == State::kClosed && (from == State::kOpen || from == State::kHalfOpen)) {
    return ReportKind::kClose;
  }
  return std::nullopt;
}

std::string Hex(std::string_view raw) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(raw.size() * 2, '0');
  for (std::size_t i = 0; i < raw.size(); ++i) {
    auto c = static_cast<unsigned char>(raw[i]);
    out[2 * i] = kDigits[c >> 4];
    out[2 * i + 1] = kDigits[c & 15];
  }
  return out;
}

bool Unhex(std::string_view hex, std::string* raw) {
  if (hex.empty() || hex.size() % 2 != 0) return false;
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  raw->resize(hex.size() / 2);
  for (std::size_t i = 0; i < raw->size(); ++i) {
    int hi = val(hex[2 * i]), lo = val(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*raw)[i] = static_cast<char>(hi * 16 + lo);
  }
  return true;
}

Keys::Keys(std::string_view key_prefix)
    : tag(absl::StrCat("{", Absl(key_prefix), "}")),
      meta(tag + ":m"),
      open(tag + ":o"),
      channel(tag + ":ev") {}

absl::StatusOr<Updates> ParseFlushReply(const redisReply* reply) {
  return ParseDecisions(reply, "flush reply");
}

absl::StatusOr<Updates> ParseSnapshotReply(const redisReply* reply) {
  if (reply != nullptr && reply->type == REDIS_REPLY_ARRAY &&
      reply->elements == 1 && IsString(reply->element[0]) &&
      reply->element[0]->len == 0) {
    return Updates{};  // Redis holds no state (yet)
  }
  return ParseDecisions(reply, "snapshot reply");
}

absl::StatusOr<Updates> ParseMessage(std::string_view payload) {
  constexpr std::string_view kWhat = "message";
  std::vector<std::string_view> f;
  for (absl::string_view field : absl::StrSplit(Absl(payload), '|')) {
    f.emplace_back(field.data(), field.size());
  }
  if (f.size() != 7) {
    return Bad(kWhat, absl::StrCat(f.size(), " fields; expected 7"));
  }
  if (f[0] != "1") {
    return Bad(kWhat, absl::StrCat("format ", Quote(f[0]), " is not 1"));
  }
  if (f[1].empty()) return Bad(kWhat, "the incarnation is empty");
  Update u;
  std::optional<FleetState> state = FleetStateFromWire(f[2]);
  if (!state) {
    return Bad(kWhat, absl::StrCat("state ", Quote(f[2]), " is not c, o or h"));
  }
  u.state = *state;
  if (!absl::SimpleAtoi(Absl(f[3]), &u.epoch)) {
    return Bad(kWhat, absl::StrCat("epoch ", Quote(f[3]), " is not a number"));
  }
  std::int64_t rem = 0;
  if (!absl::SimpleAtoi(Absl(f[4]), &rem) || rem < 0) {
    return Bad(kWhat, absl::StrCat("remaining time ", Quote(f[4]),
                                   " is not a number >= 0"));
  }
  u.remaining_ms = std::min(rem, kMaxRemainingMs);
  u.prober = std::string(f[5]);
  u.hex = std::string(f[6]);
  if (!Unhex(u.hex, &u.peer)) {
    return Bad(kWhat, absl::StrCat("peer id ", Quote(f[6]), " is not lowercase hex"));
  }
  Updates out;
  out.incarnation = std::string(f[1]);
  out.updates.push_back(std::move(u));
  return out;
}

Push ClassifyPush(const redisReply* r) {
  if (r == nullptr) return {};
  if (r->type == REDIS_REPLY_ERROR) return {PushKind::kError, StrOf(r)};
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 || !IsString(r->element[0])) {
    return {};
  }
  std::string_view kind = StrOf(r->element[0]);
  if (kind == "message" && r->elements == 3 && IsString(r->element[2])) {
    return {PushKind::kMessage, StrOf(r->element[2])};
  }
  if (kind == "pong") return {PushKind::kPong, {}};
  if (kind == "subscribe" && r->elements == 3) return {PushKind::kSubscribed, {}};
  return {};
}

std::string_view ErrorText(const redisReply* reply) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ERROR) return {};
  return StrOf(reply);
}

bool IsNoScript(const redisReply* reply) {
  return ErrorText(reply).substr(0, 8) == "NOSCRIPT";
}

bool IsScriptSha(const redisReply* reply) {
  return IsString(reply) && reply->len == 40;
}

FlushCall::FlushCall(const std::string& sha, const Keys& keys,
                     const std::string& instance, const BreakerOptions& policy,
                     const RedisOptions& options) {
  auto ms = [](absl::Duration d) { return absl::ToInt64Milliseconds(d); };
  args_ = {
      "EVALSHA", sha, "2", keys.meta, keys.open, instance,
      absl::StrCat(policy.max_failures == kUnlimited ? -1 : policy.max_failures),
      absl::StrCat(std::max<std::int64_t>(1, ms(policy.time_unit))),
      absl::StrCat(kWindowBuckets),
      absl::StrCat(options.min_reporters),
      absl::StrCat(std::max<std::int64_t>(0, ms(policy.reset_timeout))),
      absl::StrCat(policy.backoff_multiplier),
      absl::StrCat(policy.max_reset_timeout >= absl::InfiniteDuration()
                       ? -1
                       : ms(policy.max_reset_timeout)),
      absl::StrCat(std::max<std::int64_t>(1, ms(options.probe_lease))),
      keys.tag};
  head_size_ = args_.size();
}

void FlushCall::Add(const Op& op) {
  args_.push_back(std::string(1, ToWire(op.kind)));
  args_.push_back(Hex(op.peer));
  args_.push_back(absl::StrCat(op.n));
  args_.push_back(op.known_inc);
  args_.push_back(absl::StrCat(op.known_epoch));
  if (op.kind == ReportKind::kHalfOpen) lease_requests_.insert(args_[args_.size() - 4]);
  ++ops_;
}

void FlushCall::Clear() {
  args_.resize(head_size_);
  lease_requests_.clear();
  ops_ = 0;
}

std::vector<std::string> SnapshotCall(const std::string& sha, const Keys& keys,
                                      const std::string& known_inc,
                                      const std::vector<std::string>& believed) {
  std::vector<std::string> args = {"EVALSHA", sha, "2", keys.meta, keys.open,
                                   keys.tag, known_inc};
  std::size_t n = std::min(believed.size(), kMaxBelievedPeers);
  for (std::size_t i = 0; i < n; ++i) args.push_back(Hex(believed[i]));
  return args;
}

}  // namespace circuit::internal::redis
