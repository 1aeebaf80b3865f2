// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The Redis-shared mode of DESIGN.md section 5, against a private
// redis-server this benchmark starts on a free loopback port (and stops by
// PID); skipped when redis-server is not installed.
//
//   - BM_ClosedSuccess/local and /redis: closed admit + success through
//     `context(peer)` over 10k peers round-robin, without a store and with
//     a healthy RedisStore attached (target: redis <= 1.2 x local).
//   - BM_TripPropagation: a peer tripped in this process, seen by a set in a
//     forked child process (its own store and connections) through a
//     listener; p50 / p99 / max in microseconds as counters (target: p99
//     <= 50 ms).
//   - BM_CommandsPer1000Calls/<failure per mille>: Redis commands (all
//     kinds, both connections) per 1,000 calls over 200 peers at 0, 1 %
//     and 10 % failures (the threshold is never reached).
//
// Run: build-bench/bench/redis_bench

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "circuit/circuit.h"
#include "circuit/redis_store.h"
#include "redis_harness.h"

namespace {

using Steady = std::chrono::steady_clock;

long long NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             Steady::now().time_since_epoch())
      .count();
}

// The private server (tests/redis/redis_harness.h), started on first use
// and stopped (by PID) at exit.
circuit::testing::RedisServer& Server() {
  static circuit::testing::RedisServer server;
  return server;
}

bool ServerOk() { return Server().pid() > 0; }

std::shared_ptr<circuit::RedisStore> Connected(const std::string& prefix) {
  circuit::RedisOptions r;
  r.port = Server().port();
  r.key_prefix = prefix;
  auto store = std::make_shared<circuit::RedisStore>(r);
  auto deadline = Steady::now() + std::chrono::seconds(10);
  while (!store->healthy() && Steady::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return store;
}

const std::vector<std::string>& Peers() {
  static const std::vector<std::string> peers = [] {
    std::vector<std::string> v;
    for (int i = 0; i < 10000; ++i) v.push_back(absl::StrFormat("svc-%06d.local", i));
    return v;
  }();
  return peers;
}

void BM_ClosedSuccess(benchmark::State& state) {
  bool redis = state.range(0) == 1;
  if (redis && !ServerOk()) {
    state.SkipWithError("redis-server not installed");
    return;
  }
  circuit::SetOptions o;
  if (redis) o.store = Connected(absl::StrFormat("bench-closed-%d", getpid()));
  circuit::CircuitBreakerSet set(o);
  const auto& peers = Peers();
  for (const auto& p : peers) set.context(p).succeed();
  std::size_t i = 0;
  for (auto _ : state) {
    circuit::Context ctx = set.context(peers[i]);
    ctx.succeed();
    if (++i == peers.size()) i = 0;
  }
  state.SetLabel(redis ? "redis store attached" : "local");
}
BENCHMARK(BM_ClosedSuccess)->Arg(0)->Arg(1)->ArgNames({"redis"});

// Reports each open it sees on a pipe: "<index> <monotonic ns>".
class OpenReporter : public circuit::Listener {
 public:
  explicit OpenReporter(int fd) : fd_(fd) {}
  void state_change(std::string_view peer, circuit::State, circuit::State to) override {
    if (to != circuit::State::kOpen) return;
    std::string line = absl::StrFormat("%s %d\n", std::string(peer.substr(5)), NowNs());
    ssize_t n = write(fd_, line.data(), line.size());
    (void)n;
  }

 private:
  int fd_;
};

void BM_TripPropagation(benchmark::State& state) {
  if (!ServerOk()) {
    state.SkipWithError("redis-server not installed");
    return;
  }
  std::string prefix = absl::StrFormat("bench-prop-%d-%d", getpid(), NowNs() % 100000);
  int up[2], down[2];
  if (pipe(up) != 0 || pipe(down) != 0) return;
  pid_t child = fork();
  if (child == 0) {
    close(up[0]);
    close(down[1]);
    {
      circuit::SetOptions o;
      o.defaults.max_failures = 0;
      o.store = Connected(prefix);
      circuit::CircuitBreakerSet set(o);
      set.add_listener(std::make_shared<OpenReporter>(up[1]));
      ssize_t n = write(up[1], "ready\n", 6);
      (void)n;
      char c;
      while (read(down[0], &c, 1) == 1) {
      }
    }
    _exit(0);
  }
  close(up[1]);
  close(down[0]);
  circuit::SetOptions o;
  o.defaults.max_failures = 0;  // the first failure trips
  o.store = Connected(prefix);
  circuit::CircuitBreakerSet set(o);
  auto read_line = [&]() {
    std::string line;
    char c;
    while (read(up[0], &c, 1) == 1 && c != '\n') line += c;
    return line;
  };
  read_line();  // ready
  std::vector<double> us;
  int i = 0;
  for (auto _ : state) {
    for (int k = 0; k < 200; ++k, ++i) {
      std::string peer = absl::StrFormat("peer-%d", i);
      long long t0 = NowNs();
      set.context(peer).fail();
      std::string line = read_line();
      auto sp = line.find(' ');
      if (sp == std::string::npos) break;
      us.push_back(static_cast<double>(std::stoll(line.substr(sp + 1)) - t0) / 1e3);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  close(down[1]);
  waitpid(child, nullptr, 0);
  close(up[0]);
  if (us.empty()) {
    state.SkipWithError("no trip seen");
    return;
  }
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) { return us[std::min(us.size() - 1, static_cast<std::size_t>(p * us.size()))]; };
  state.counters["p50_us"] = pct(0.50);
  state.counters["p99_us"] = pct(0.99);
  state.counters["max_us"] = us.back();
  state.counters["samples"] = static_cast<double>(us.size());
}
BENCHMARK(BM_TripPropagation)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_CommandsPer1000Calls(benchmark::State& state) {
  if (!ServerOk()) {
    state.SkipWithError("redis-server not installed");
    return;
  }
  int per_mille = static_cast<int>(state.range(0));
  circuit::SetOptions o;
  o.defaults.max_failures = circuit::kUnlimited;  // never trips: steady state
  auto store = Connected(absl::StrFormat("bench-cmds-%d-%d", getpid(), per_mille));
  o.store = store;
  circuit::CircuitBreakerSet set(o);
  const auto& peers = Peers();
  long long calls = 0;
  auto before = store->stats();
  auto t0 = Steady::now();
  for (auto _ : state) {
    for (int k = 0; k < 1000; ++k, ++calls) {
      circuit::Context ctx = set.context(peers[calls % 200]);
      if (calls % 1000 < per_mille) {
        ctx.fail();
      } else {
        ctx.succeed();
      }
    }
  }
  // Let the last batch go out, then count.
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  auto after = store->stats();
  double seconds = std::chrono::duration<double>(Steady::now() - t0).count();
  state.counters["commands_per_1000_calls"] =
      static_cast<double>(after.commands - before.commands) * 1000.0 / static_cast<double>(calls);
  state.counters["flushes_per_s"] = static_cast<double>(after.flushes - before.flushes) / seconds;
  state.counters["calls"] = static_cast<double>(calls);
}
BENCHMARK(BM_CommandsPer1000Calls)->Arg(0)->Arg(10)->Arg(100)->ArgNames({"fail_per_mille"})
    ->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
