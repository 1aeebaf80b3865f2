// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0

#include "redis/subscriber.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <stdexcept>
#include <utility>

#include "absl/status/statusor.h"

namespace circuit::internal::redis {

Subscriber::Subscriber(const RedisOptions& options, const Keys& keys,
                       FleetView* fleet, std::function<void()> on_subscribed,
                       Counters* counters, Health* health, Backoff* backoff)
    : options_(options),
      keys_(keys),
      fleet_(fleet),
      on_subscribed_(std::move(on_subscribed)),
      counters_(counters),
      health_(health),
      backoff_(backoff),
      wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (wake_fd_ < 0) throw std::runtime_error("RedisStore: eventfd failed");
}

Subscriber::~Subscriber() {
  RequestStop();
  Join();
  close(wake_fd_);
}

void Subscriber::Start() { thread_ = std::thread([this] { Main(); }); }

void Subscriber::RequestStop() {
  stopping_.store(true, std::memory_order_release);
  // The eventfd is never read, so it stays readable: every later wait ends
  // at once too.
  std::uint64_t one = 1;
  ssize_t ignored = write(wake_fd_, &one, sizeof one);
  (void)ignored;
}

void Subscriber::Join() {
  if (thread_.joinable()) thread_.join();
}

Readiness Subscriber::Wait(int fd, SteadyTime deadline) {
  if (stopping_.load(std::memory_order_acquire)) return Readiness::kStop;
  return WaitReadable(fd, wake_fd_, deadline);
}

bool Subscriber::SleepOrStop(std::chrono::nanoseconds d) {
  return Wait(-1, SteadyClock::now() + d) != Readiness::kStop;
}

void Subscriber::Main() {
  BlockSigpipe();
  int attempt = 0;
  while (!stopping_.load(std::memory_order_acquire)) {
    Connection conn;
    if (!Subscribe(&conn).ok()) {
      conn.Close();
      Counters::Add(counters_->errors);
      if (!SleepOrStop(backoff_->Delay(attempt))) break;
      ++attempt;
      continue;
    }
    attempt = 0;
    Counters::Add(counters_->reconnects);
    health_->SubscriptionUp();
    on_subscribed_();
    bool failed = Listen(conn);
    conn.Close();
    if (!failed) {
      health_->SubscriptionClosed();
      break;
    }
    health_->SubscriptionLost();
    Counters::Add(counters_->errors);
    if (!SleepOrStop(backoff_->Delay(attempt))) break;
    ++attempt;
  }
}

absl::Status Subscriber::Subscribe(Connection* conn) {
  absl::StatusOr<Connection> c = Connection::Open(options_, &counters_->commands);
  if (!c.ok()) return c.status();
  *conn = std::move(*c);
  if (absl::Status s = conn->Authenticate(options_.password); !s.ok()) return s;
  if (absl::Status s = conn->Send({"SUBSCRIBE", keys_.channel}); !s.ok()) return s;
  SteadyTime deadline = SteadyClock::now() + ToChrono(options_.command_timeout);
  for (;;) {
    absl::StatusOr<Reply> r = conn->NextReply();
    if (!r.ok()) return r.status();
    if (*r != nullptr) {
      if (ClassifyPush(r->get()).kind != PushKind::kSubscribed) {
        return absl::UnavailableError("SUBSCRIBE refused");
      }
      return absl::OkStatus();
    }
    if (Wait(conn->fd(), deadline) != Readiness::kReadable) {
      return absl::DeadlineExceededError("no answer to SUBSCRIBE");
    }
    if (absl::Status s = conn->Receive(); !s.ok()) return s;
  }
}

bool Subscriber::Listen(Connection& conn) {
  const auto keepalive = ToChrono(options_.keepalive_interval);
  const auto timeout = ToChrono(options_.command_timeout);
  SteadyTime last_ping = SteadyClock::now();
  bool ping_out = false;
  for (;;) {
    SteadyTime deadline = ping_out ? last_ping + timeout : last_ping + keepalive;
    Readiness w = Wait(conn.fd(), deadline);
    if (w == Readiness::kStop) return false;
    if (w == Readiness::kError) return true;
    if (w == Readiness::kTimeout) {
      if (ping_out) return true;  // a hung server: connect works, replies do not
      if (!conn.Send({"PING"}).ok()) return true;
      ping_out = true;
      last_ping = SteadyClock::now();
      continue;
    }
    if (!conn.Receive().ok()) return true;
    for (;;) {
      absl::StatusOr<Reply> r = conn.NextReply();
      if (!r.ok()) return true;
      if (*r == nullptr) break;
      Push push = ClassifyPush(r->get());
      if (push.kind == PushKind::kMessage) {
        Counters::Add(counters_->messages);
        OnMessage(push.payload);
      } else if (push.kind == PushKind::kPong) {
        ping_out = false;
      } else if (push.kind == PushKind::kError) {
        return true;
      }
    }
  }
}

void Subscriber::OnMessage(std::string_view payload) {
  // A message that does not parse is ignored: the next snapshot repairs
  // what it would have said.
  absl::StatusOr<Updates> updates = ParseMessage(payload);
  if (updates.ok()) fleet_->Deliver(*updates, Reapply{});
}

}  // namespace circuit::internal::redis
