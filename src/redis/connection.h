// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// One blocking connection to Redis, as the store's two threads use it.
//
// hiredis 0.14 serves as the RESP encoder and parser on a blocking context
// whose socket has SO_RCVTIMEO/SO_SNDTIMEO set to the command timeout, so
// no read or write waits longer than that. A connection that failed in any
// way is thrown away at once: a late reply would line up with the wrong
// request. hiredis 0.14 writes with write(), so a thread that uses a
// connection blocks SIGPIPE (BlockSigpipe()); a SIGPIPE left pending by a
// failed write is discarded when the connection is closed. The process-wide
// disposition is never changed.
//
// Also here: waiting for a socket with a stop descriptor beside it, and the
// reconnect backoff both threads draw from.
//
// Thread safety: a `Connection` belongs to one thread at a time. `Backoff`
// may be used from any thread.

#ifndef CIRCUIT_SRC_REDIS_CONNECTION_H_
#define CIRCUIT_SRC_REDIS_CONNECTION_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <hiredis/hiredis.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "circuit/redis_store.h"

namespace circuit::internal::redis {

using SteadyClock = std::chrono::steady_clock;
using SteadyTime = SteadyClock::time_point;

std::chrono::nanoseconds ToChrono(absl::Duration d);

// Blocks SIGPIPE in the calling thread, for good.
void BlockSigpipe();

struct ReplyDeleter {
  void operator()(redisReply* r) const;
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// WaitReadable()
//
// Waits until `fd` is readable, `stop_fd` is readable (stop), `deadline`
// passes, or poll() fails. With `fd` < 0 it only sleeps until the deadline
// or the stop.
enum class Readiness { kReadable, kTimeout, kStop, kError };
Readiness WaitReadable(int fd, int stop_fd, SteadyTime deadline);

// Connection
//
// Every call that fails closes the connection (`is_open()` turns false) and
// returns the reason; an error reply from Redis is a reply, not a failure.
// Each command sent adds one to the `commands` counter given to Open().
class Connection {
 public:
  // Connection::Open()
  //
  // Connects to Redis within `connect_timeout`, bounds every later read
  // and write by `command_timeout`, and turns on TCP keepalive. Sends
  // nothing. `kUnavailable` with hiredis's reason when it cannot connect.
  //
  // This is where the store finds the server: RedisOptions::host and port
  // today. A Sentinel-aware store would ask the sentinels for the current
  // master here (SENTINEL get-master-addr-by-name, then ROLE on the
  // connection to confirm it), and everything above this unit would follow
  // a failover by reconnecting, as it does after any lost connection.
  static absl::StatusOr<Connection> Open(const RedisOptions& options,
                                         std::atomic<std::uint64_t>* commands);

  Connection() = default;
  Connection(Connection&& other) noexcept = default;
  Connection& operator=(Connection&& other) noexcept;
  ~Connection();

  bool is_open() const { return context_ != nullptr; }

  // The socket (to wait for with WaitReadable()); -1 when closed.
  int fd() const;

  // Throws the context away and discards a SIGPIPE it left pending.
  void Close();

  // Connection::Authenticate()
  //
  // Sends AUTH when `password` is not empty. `kPermissionDenied` with the
  // server's text when it refuses (the connection is closed then too).
  absl::Status Authenticate(const std::string& password);

  // Connection::Command()
  //
  // Sends one command and waits for its reply (request/response use).
  absl::StatusOr<Reply> Command(const std::vector<std::string>& args);

  // Pipelined use (the subscriber): Send() writes a command out now;
  // NextReply() returns a reply already read, or null when the buffer holds
  // no complete one: wait with WaitReadable(), then Receive() reads what the
  // socket has.
  absl::Status Send(const std::vector<std::string>& args);
  absl::Status Receive();
  absl::StatusOr<Reply> NextReply();

 private:
  struct ContextDeleter {
    void operator()(redisContext* c) const;
  };

  // Closes, and returns `kUnavailable` with hiredis's reason (or `why`).
  absl::Status Fail(const char* why);

  std::unique_ptr<redisContext, ContextDeleter> context_;
  std::atomic<std::uint64_t>* commands_ = nullptr;
};

// Backoff
//
// Reconnect delays: full jitter, uniform in [1 ms, min(max, base * 2^attempt)].
class Backoff {
 public:
  // `seed` tells this process's draws apart from other processes'.
  Backoff(std::uint64_t seed, absl::Duration base, absl::Duration max);

  std::chrono::nanoseconds Delay(int attempt);

 private:
  const std::uint64_t seed_;
  const std::int64_t base_ns_;
  const std::int64_t max_ns_;
  // Each draw mixes the seed with a sequence number, so both threads draw
  // from one Backoff without a lock; a per-thread generator would put
  // kilobytes into the library's TLS block (which a library loaded with
  // dlopen() must fit in).
  std::atomic<std::uint64_t> draws_{0};
};

}  // namespace circuit::internal::redis

#endif  // CIRCUIT_SRC_REDIS_CONNECTION_H_
