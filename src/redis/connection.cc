// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0

#include "redis/connection.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <utility>

#include "arith.h"
#include "redis/protocol.h"

namespace circuit::internal::redis {
namespace {

// At least 1 ms: a zero timeval would mean no timeout at all.
timeval SocketTimeout(absl::Duration d) {
  std::int64_t us = std::max<std::int64_t>(1000, absl::ToInt64Microseconds(d));
  timeval tv;
  tv.tv_sec = static_cast<time_t>(us / 1000000);
  tv.tv_usec = static_cast<suseconds_t>(us % 1000000);
  return tv;
}

sigset_t Sigpipe() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  return set;
}

// Discards a SIGPIPE left pending on this thread by a failed write.
void DrainSigpipe() {
  sigset_t set = Sigpipe();
  timespec zero{0, 0};
  while (sigtimedwait(&set, nullptr, &zero) == SIGPIPE) {
  }
}

// hiredis's argv form of `args`.
struct Argv {
  explicit Argv(const std::vector<std::string>& args) {
    ptrs.reserve(args.size());
    lens.reserve(args.size());
    for (const std::string& a : args) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
  }
  int argc() const { return static_cast<int>(ptrs.size()); }
  std::vector<const char*> ptrs;
  std::vector<std::size_t> lens;
};

}  // namespace

std::chrono::nanoseconds ToChrono(absl::Duration d) {
  return std::chrono::nanoseconds(absl::ToInt64Nanoseconds(d));
}

void BlockSigpipe() {
  sigset_t set = Sigpipe();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void ReplyDeleter::operator()(redisReply* r) const {
  if (r != nullptr) freeReplyObject(r);
}

Readiness WaitReadable(int fd, int stop_fd, SteadyTime deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - SteadyClock::now());
    if (left.count() < 0) return Readiness::kTimeout;
    pollfd fds[2] = {{stop_fd, POLLIN, 0}, {fd, POLLIN, 0}};
    int n = poll(fds, fd >= 0 ? 2 : 1, static_cast<int>(left.count()) + 1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Readiness::kError;
    }
    if (fds[0].revents != 0) return Readiness::kStop;
    if (fd >= 0 && fds[1].revents != 0) return Readiness::kReadable;
    if (n == 0 && SteadyClock::now() >= deadline) return Readiness::kTimeout;
  }
}

// ---------------------------------------------------------------------------
// Connection

void Connection::ContextDeleter::operator()(redisContext* c) const {
  if (c != nullptr) redisFree(c);
}

absl::StatusOr<Connection> Connection::Open(const RedisOptions& options,
                                            std::atomic<std::uint64_t>* commands) {
  Connection conn;
  conn.commands_ = commands;
  conn.context_.reset(redisConnectWithTimeout(options.host.c_str(), options.port,
                                              SocketTimeout(options.connect_timeout)));
  if (conn.context_ == nullptr) {
    return absl::UnavailableError("cannot allocate a connection");
  }
  if (conn.context_->err != 0) return conn.Fail(nullptr);
  redisSetTimeout(conn.context_.get(), SocketTimeout(options.command_timeout));
  redisEnableKeepAlive(conn.context_.get());
  return conn;
}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    Close();
    context_ = std::move(other.context_);
    commands_ = other.commands_;
  }
  return *this;
}

Connection::~Connection() { Close(); }

int Connection::fd() const { return context_ != nullptr ? context_->fd : -1; }

void Connection::Close() {
  if (context_ == nullptr) return;
  context_.reset();
  DrainSigpipe();
}

absl::Status Connection::Fail(const char* why) {
  std::string reason = context_ != nullptr && context_->err != 0
                           ? std::string(context_->errstr)
                           : std::string(why != nullptr ? why : "connection failed");
  Close();
  return absl::UnavailableError(reason);
}

absl::Status Connection::Authenticate(const std::string& password) {
  if (password.empty()) return absl::OkStatus();
  absl::StatusOr<Reply> r = Command({"AUTH", password});
  if (!r.ok()) return r.status();
  if (std::string_view refused = ErrorText(r->get()); !refused.empty()) {
    Close();
    return absl::PermissionDeniedError(std::string(refused));
  }
  return absl::OkStatus();
}

absl::StatusOr<Reply> Connection::Command(const std::vector<std::string>& args) {
  if (context_ == nullptr) return absl::FailedPreconditionError("not connected");
  Argv argv(args);
  if (commands_ != nullptr) commands_->fetch_add(1, std::memory_order_relaxed);
  Reply reply(static_cast<redisReply*>(
      redisCommandArgv(context_.get(), argv.argc(), argv.ptrs.data(), argv.lens.data())));
  if (reply == nullptr || context_->err != 0) return Fail("no reply");
  return reply;
}

absl::Status Connection::Send(const std::vector<std::string>& args) {
  if (context_ == nullptr) return absl::FailedPreconditionError("not connected");
  Argv argv(args);
  if (commands_ != nullptr) commands_->fetch_add(1, std::memory_order_relaxed);
  if (redisAppendCommandArgv(context_.get(), argv.argc(), argv.ptrs.data(),
                             argv.lens.data()) != REDIS_OK) {
    return Fail(nullptr);
  }
  int done = 0;
  while (!done) {
    if (redisBufferWrite(context_.get(), &done) != REDIS_OK) return Fail(nullptr);
  }
  return absl::OkStatus();
}

absl::Status Connection::Receive() {
  if (context_ == nullptr) return absl::FailedPreconditionError("not connected");
  if (redisBufferRead(context_.get()) != REDIS_OK) return Fail(nullptr);
  return absl::OkStatus();
}

absl::StatusOr<Reply> Connection::NextReply() {
  if (context_ == nullptr) return absl::FailedPreconditionError("not connected");
  void* raw = nullptr;
  // A protocol error: the server may not be Redis at all.
  if (redisGetReplyFromReader(context_.get(), &raw) != REDIS_OK) return Fail(nullptr);
  return Reply(static_cast<redisReply*>(raw));
}

// ---------------------------------------------------------------------------
// Backoff

Backoff::Backoff(std::uint64_t seed, absl::Duration base, absl::Duration max)
    : seed_(seed),
      base_ns_(absl::ToInt64Nanoseconds(base)),
      max_ns_(absl::ToInt64Nanoseconds(max)) {}

std::chrono::nanoseconds Backoff::Delay(int attempt) {
  std::mt19937_64 rng(Mix(seed_ ^ Mix(draws_.fetch_add(1, std::memory_order_relaxed))));
  std::int64_t hi = base_ns_;
  for (int i = 0; i < attempt && hi < max_ns_; ++i) hi *= 2;
  hi = std::min(hi, max_ns_);
  constexpr std::int64_t kMinNs = 1000000;
  std::uniform_int_distribution<std::int64_t> d(kMinNs, std::max(kMinNs, hi));
  return std::chrono::nanoseconds(d(rng));
}

}  // namespace circuit::internal::redis
