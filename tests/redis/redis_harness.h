// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Test harness for the Redis store: runs a real redis-server on a loopback
// port it picks, as a child process it stops by PID only; a raw hiredis
// client for fault injection; a garbage TCP server; polling helpers.
//
// When redis-server is not installed, `RequireRedisOrSkip()` exits with 77,
// which Meson reports as SKIPPED.

#ifndef CIRCUIT_TESTS_REDIS_REDIS_HARNESS_H_
#define CIRCUIT_TESTS_REDIS_REDIS_HARNESS_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string_view>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <hiredis/hiredis.h>

#include "circuit/circuit.h"
#include "circuit/redis_store.h"

namespace circuit::testing {

inline std::optional<std::string> FindRedisServer() {
  // CIRCUIT_REDIS_SERVER: the binary to use, or "none" to act as if Redis
  // were not installed (checks the SKIPPED path).
  if (const char* env = std::getenv("CIRCUIT_REDIS_SERVER")) {
    if (std::string(env) == "none") return std::nullopt;
    if (access(env, X_OK) == 0) return std::string(env);
  }
  const char* path = std::getenv("PATH");
  std::string p = path != nullptr ? path : "/usr/bin:/usr/sbin:/bin";
  p += ":/usr/bin:/usr/sbin";
  std::size_t start = 0;
  while (start <= p.size()) {
    std::size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string cand = p.substr(start, end - start) + "/redis-server";
    if (end > start && access(cand.c_str(), X_OK) == 0) return cand;
    start = end + 1;
  }
  return std::nullopt;
}

// Exits 77 (Meson: SKIPPED) when redis-server is missing.
inline void RequireRedisOrSkip() {
  if (!FindRedisServer()) {
    std::printf("redis-server not installed: Redis tests SKIPPED\n");
    std::fflush(stdout);
    std::_Exit(77);
  }
}

// A loopback port nothing listens on right now.
inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

// Polls `pred` every millisecond until it holds or `limit` passes.
inline bool WaitFor(const std::function<bool()>& pred,
                    std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

// One reply-checked command on a fresh connection (fault injection).
inline std::string Cli(int port, const std::vector<std::string>& args,
                       int timeout_ms = 2000) {
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
  if (c == nullptr) return "ERR connect";
  if (c->err != 0) {
    std::string e = std::string("ERR ") + c->errstr;
    redisFree(c);
    return e;
  }
  redisSetTimeout(c, tv);
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
  std::string out;
  if (r == nullptr) {
    out = std::string("ERR ") + c->errstr;
  } else {
    switch (r->type) {
      case REDIS_REPLY_STRING:
      case REDIS_REPLY_STATUS:
        out = std::string(r->str, r->len);
        break;
      case REDIS_REPLY_ERROR:
        out = std::string("ERR ") + std::string(r->str, r->len);
        break;
      case REDIS_REPLY_INTEGER:
        out = std::to_string(r->integer);
        break;
      case REDIS_REPLY_ARRAY:
        for (size_t i = 0; i < r->elements; ++i) {
          if (i) out += "\n";
          if (r->element[i]->str) out += std::string(r->element[i]->str, r->element[i]->len);
        }
        break;
      default:
        out = "";
    }
    freeReplyObject(r);
  }
  redisFree(c);
  return out;
}

// A redis-server child on 127.0.0.1:<port>.
class RedisServer {
 public:
  explicit RedisServer(int port = 0) : port_(port == 0 ? FreePort() : port) { Start(); }
  ~RedisServer() { Stop(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }

  // Starts (again) on the same port; waits until it answers PING.
  bool Start() {
    if (pid_ > 0) return true;
    auto bin = FindRedisServer();
    if (!bin) return false;
    std::string port = std::to_string(port_);
    pid_ = fork();
    if (pid_ == 0) {
      int devnull = open("/dev/null", O_WRONLY);
      if (devnull >= 0) {
        dup2(devnull, 1);
        dup2(devnull, 2);
      }
      execl(bin->c_str(), bin->c_str(), "--port", port.c_str(), "--bind",
            "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize",
            "no", "--enable-debug-command", "local", "--protected-mode", "no",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 3000; ++i) {
      if (Cli(port_, {"PING"}, 200) == "PONG") return true;
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
  }

  // Kills the server (SIGKILL by PID) and reaps it: a crash mid-flight.
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGCONT);
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  void Stop() { Kill(); }
  void Pause() {
    if (pid_ > 0) kill(pid_, SIGSTOP);
  }
  void Resume() {
    if (pid_ > 0) kill(pid_, SIGCONT);
  }

  std::string Cmd(const std::vector<std::string>& args) { return Cli(port_, args); }

 private:
  int port_;
  pid_t pid_ = -1;
};

// A TCP server on loopback that answers every connection with `reply`
// bytes, whatever it is sent (a server that is not Redis, or a broken one).
class GarbageServer {
 public:
  explicit GarbageServer(std::string reply) : reply_(std::move(reply)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    listen(fd_, 64);
    thread_ = std::thread([this] { Run(); });
  }
  ~GarbageServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  int connections() const { return connections_.load(); }

 private:
  void Run() {
    while (!stop_) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) {
        if (stop_) return;
        continue;
      }
      ++connections_;
      char buf[512];
      timeval tv{0, 200000};
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ssize_t n = recv(c, buf, sizeof buf, 0);
      (void)n;
      send(c, reply_.data(), reply_.size(), MSG_NOSIGNAL);
      // Keep it a moment so the client reads the bytes, then drop it.
      recv(c, buf, sizeof buf, 0);
      close(c);
    }
  }
  std::string reply_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

// One "process" of a fleet: a store and a set on it.
struct Node {
  std::shared_ptr<RedisStore> store;
  std::unique_ptr<CircuitBreakerSet> set;
};

// Options tuned for tests: short keepalive and backoff so faults are seen
// and recovered from quickly.
inline RedisOptions TestRedisOptions(int port, const std::string& prefix) {
  RedisOptions r;
  r.port = port;
  r.key_prefix = prefix;
  r.keepalive_interval = absl::Milliseconds(100);
  r.backoff_base = absl::Milliseconds(10);
  r.backoff_max = absl::Milliseconds(200);
  // Longer than any bound the tests put on a single call, so a call that
  // waited on Redis could not pass them.
  r.command_timeout = absl::Milliseconds(500);
  r.connect_timeout = absl::Milliseconds(500);
  r.probe_lease = absl::Seconds(2);
  return r;
}

// A set on `store` (several sets may share one store).
inline std::unique_ptr<CircuitBreakerSet> MakeSet(
    std::shared_ptr<RedisStore> store, BreakerOptions defaults = {}) {
  SetOptions o;
  o.defaults = defaults;
  o.store = std::move(store);
  return std::make_unique<CircuitBreakerSet>(o);
}

inline Node MakeNode(const RedisOptions& r, BreakerOptions defaults = {}) {
  Node n;
  n.store = std::make_shared<RedisStore>(r);
  n.set = MakeSet(n.store, defaults);
  return n;
}

// Records `n` failed calls (rejections are not calls).
inline int FailCalls(CircuitBreakerSet& set, std::string_view peer, int n) {
  int made = 0;
  for (int i = 0; i < n; ++i) {
    auto ctx = set.try_context(peer);
    if (!ctx.ok()) continue;
    ctx->fail();
    ++made;
  }
  return made;
}

inline bool WaitState(CircuitBreakerSet& set, std::string_view peer, State s,
                      std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  return WaitFor([&] { return set.state(peer) == s; }, limit);
}

// The name of a fresh key prefix per test.
inline std::string Prefix(const std::string& base) {
  static std::atomic<int> n{0};
  return base + "-" + std::to_string(getpid()) + "-" + std::to_string(++n);
}

}  // namespace circuit::testing

#endif  // CIRCUIT_TESTS_REDIS_REDIS_HARNESS_H_
