// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0

#include "redis/flusher.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "absl/strings/string_view.h"
#include "redis/scripts.h"

namespace circuit::internal::redis {
namespace {

std::string_view StdView(absl::string_view s) { return {s.data(), s.size()}; }

}  // namespace

Flusher::Flusher(const RedisOptions& options, const Keys& keys,
                 const std::string& instance, FleetView* fleet, Counters* counters,
                 Health* health, Backoff* backoff)
    : options_(options),
      keys_(keys),
      instance_(instance),
      fleet_(fleet),
      counters_(counters),
      health_(health),
      backoff_(backoff) {}

Flusher::~Flusher() {
  RequestStop();
  Join();
}

void Flusher::Start() { thread_ = std::thread([this] { Main(); }); }

void Flusher::RequestStop() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

void Flusher::Join() {
  if (thread_.joinable()) thread_.join();
}

// ---------------------------------------------------------------------------
// The callers' side: a short lock, never I/O.

void Flusher::AdoptPolicy(const BreakerOptions& defaults) {
  {
    MutexLock lock(&mu_);
    if (!have_policy_) {
      policy_ = defaults;
      have_policy_ = true;
    }
    resync_wanted_ = true;
  }
  cv_.notify_all();
}

void Flusher::RequestResync() {
  {
    MutexLock lock(&mu_);
    resync_wanted_ = true;
  }
  cv_.notify_all();
}

void Flusher::AddFailure(std::string_view peer) {
  bool wake = false;
  {
    MutexLock lock(&mu_);
    auto it = fails_.find(absl::string_view(peer.data(), peer.size()));
    if (it != fails_.end()) {
      if (it->second < std::numeric_limits<int>::max()) ++it->second;
    } else if (fails_.size() >= static_cast<std::size_t>(options_.max_pending_peers)) {
      Counters::Add(counters_->dropped);
      return;
    } else {
      if (fails_.empty()) fails_since_ = SteadyClock::now();
      fails_.emplace(std::string(peer), 1);
    }
    wake = !urgent_;
    urgent_ = true;
  }
  if (wake) cv_.notify_all();
}

void Flusher::AddReport(Op op) {
  Report r{std::move(op), SteadyClock::now()};
  bool wake = false;
  {
    MutexLock lock(&mu_);
    if (reports_.size() >= kMaxPendingReports) {
      Counters::Add(counters_->dropped);
      return;
    }
    reports_.push_back(std::move(r));
    wake = !urgent_;
    urgent_ = true;
  }
  if (wake) cv_.notify_all();
}

// ---------------------------------------------------------------------------
// The flusher thread.

void Flusher::DropStaleLocked(SteadyTime now) {
  // While Redis is unreachable nothing is flushed; what is older than the
  // fleet window (or the open period it reports) no longer matters.
  auto window = have_policy_ ? ToChrono(policy_.time_unit)
                             : std::chrono::nanoseconds(std::chrono::seconds(60));
  if (!fails_.empty() && now - fails_since_ > window) {
    Counters::Add(counters_->dropped, fails_.size());
    fails_.clear();
  }
  auto stale = [&](const Report& r) {
    auto age = now - r.queued;
    if (r.op.kind == ReportKind::kTrip || r.op.kind == ReportKind::kReopen) {
      return age > std::chrono::milliseconds(r.op.n);
    }
    return age > window;
  };
  auto it = std::remove_if(reports_.begin(), reports_.end(), stale);
  Counters::Add(counters_->dropped, static_cast<std::uint64_t>(reports_.end() - it));
  reports_.erase(it, reports_.end());
}

void Flusher::SleepLocked(SteadyTime deadline, bool for_work) {
  while (!stop_ && !(for_work && (resync_wanted_ || urgent_))) {
    if (cv_.wait_until(mu_, deadline) == std::cv_status::timeout) return;
  }
}

void Flusher::Main() {
  BlockSigpipe();
  int attempt = 0;
  SteadyTime next_resync = SteadyClock::now();
  mu_.lock();
  while (!stop_) {
    if (!conn_.is_open()) {
      mu_.unlock();
      bool ok = Connect();
      if (!ok) conn_.Close();
      mu_.lock();
      if (stop_) break;
      if (!ok) {
        DropStaleLocked(SteadyClock::now());
        SleepLocked(SteadyClock::now() + backoff_->Delay(attempt), false);
        ++attempt;
        continue;
      }
      attempt = 0;
      resync_wanted_ = true;
    }
    // Wait for work: an urgent report (no sooner than expedite_delay after
    // the last flush, which bounds the flush rate under a failure storm), a
    // resync, or the periodic flush.
    auto periodic = last_flush_end_ + ToChrono(options_.flush_interval);
    SleepLocked(std::min(periodic, next_resync), true);
    if (stop_) break;
    if (urgent_ && !resync_wanted_) {
      auto earliest = last_flush_end_ + ToChrono(options_.expedite_delay);
      if (SteadyClock::now() < earliest) {
        SleepLocked(earliest, false);
        if (stop_) break;
      }
    }
    bool resync = resync_wanted_ || SteadyClock::now() >= next_resync;
    resync_wanted_ = false;
    urgent_ = false;
    Batch batch;
    if (have_policy_) {
      batch.fails.reserve(fails_.size());
      for (auto& [peer, n] : fails_) batch.fails.emplace_back(peer, n);
      fails_.clear();
      batch.reports.swap(reports_);
    }
    mu_.unlock();
    if (resync) {
      Resync();
      next_resync = SteadyClock::now() + ToChrono(options_.resync_interval);
    }
    if (!batch.fails.empty() || !batch.reports.empty()) Flush(std::move(batch));
    mu_.lock();
    last_flush_end_ = SteadyClock::now();
    // Reports taken for a batch that failed are gone (counts may be lost,
    // never doubled); reports that arrived meanwhile wait for the next turn.
  }
  mu_.unlock();
  conn_.Close();
  health_->CommandClosed();
}

bool Flusher::Connect() {
  // A connect that fails is not counted as an error on this link; a link
  // that fails after connecting is.
  absl::StatusOr<Connection> c = Connection::Open(options_, &counters_->commands);
  if (!c.ok()) return false;
  conn_ = std::move(*c);
  if (absl::Status s = conn_.Authenticate(options_.password); !s.ok()) {
    Lost(StdView(s.message()));
    return false;
  }
  if (!LoadScripts()) return false;
  Counters::Add(counters_->reconnects);
  health_->CommandUp();
  return true;
}

bool Flusher::LoadScripts() {
  for (auto [src, sha] : {std::pair<const char*, std::string*>{kFlushScript, &flush_sha_},
                          {kSnapshotScript, &snapshot_sha_}}) {
    Reply r = Command({"SCRIPT", "LOAD", src});
    if (r == nullptr) return false;
    if (!IsScriptSha(r.get())) {
      Drop(r->type == REDIS_REPLY_ERROR ? ErrorText(r.get())
                                        : "unexpected SCRIPT LOAD reply");
      return false;
    }
    *sha = std::string(r->str, r->len);
  }
  return true;
}

Reply Flusher::Command(const std::vector<std::string>& args) {
  if (!conn_.is_open()) return nullptr;
  absl::StatusOr<Reply> r = conn_.Command(args);
  if (!r.ok()) {
    Lost(StdView(r.status().message()));
    return nullptr;
  }
  return std::move(*r);
}

void Flusher::Drop(std::string_view why) {
  if (!conn_.is_open()) return;
  conn_.Close();
  Lost(why);
}

void Flusher::Lost(std::string_view why) {
  Counters::Add(counters_->errors);
  health_->CommandLost(why);
}

void Flusher::Flush(Batch batch) {
  BreakerOptions policy;
  {
    MutexLock lock(&mu_);
    policy = policy_;
  }
  FlushCall call(flush_sha_, keys_, instance_, policy, options_);
  auto add = [&](const Op& op) -> bool {
    call.Add(op);
    if (call.ops() < options_.batch_max_peers) return true;
    bool ok = FlushChunk(call);
    call.Clear();
    return ok;
  };
  // Failures first: a trip they cause is decided before the reports that
  // follow it (a local trip then finds the fleet already open).
  for (auto& [peer, n] : batch.fails) {
    if (!add(Op{ReportKind::kFailures, peer, n, "", -1})) return;
  }
  for (const Report& r : batch.reports) {
    if (!add(r.op)) return;
  }
  if (call.ops() > 0) FlushChunk(call);
}

bool Flusher::FlushChunk(FlushCall& call) {
  Reply r = Command(call.args());
  if (r == nullptr) return false;
  if (IsNoScript(r.get())) {
    // Script cache lost (restart, failover, SCRIPT FLUSH): the script did
    // not run, so reloading and retrying once cannot double-count.
    if (!LoadScripts()) return false;
    call.args()[kShaArg] = flush_sha_;
    r = Command(call.args());
    if (r == nullptr) return false;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    // OOM, READONLY, BUSY, ...: the server is there but cannot take it.
    Counters::Add(counters_->errors);
    Counters::Add(counters_->dropped);
    return true;
  }
  absl::StatusOr<Updates> updates = ParseFlushReply(r.get());
  if (!updates.ok()) {
    Drop(StdView(updates.status().message()));
    return false;
  }
  Counters::Add(counters_->flushes);
  fleet_->Deliver(*updates, Reapply{false, &call.lease_requests()});
  return true;
}

void Flusher::Resync() {
  if (!conn_.is_open()) return;
  Beliefs beliefs = fleet_->Believed(kMaxBelievedPeers);
  std::vector<std::string> args =
      SnapshotCall(snapshot_sha_, keys_, beliefs.incarnation, beliefs.not_closed);
  Reply r = Command(args);
  if (r == nullptr) return;
  if (IsNoScript(r.get())) {
    if (!LoadScripts()) return;
    args[kShaArg] = snapshot_sha_;
    r = Command(args);
    if (r == nullptr) return;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    Counters::Add(counters_->errors);
    return;
  }
  absl::StatusOr<Updates> updates = ParseSnapshotReply(r.get());
  if (!updates.ok()) {
    Drop(StdView(updates.status().message()));
    return;
  }
  Counters::Add(counters_->resyncs);
  if (updates->incarnation.empty()) return;  // Redis holds no state (yet)
  fleet_->Deliver(*updates, Reapply{true, nullptr});
}

}  // namespace circuit::internal::redis
