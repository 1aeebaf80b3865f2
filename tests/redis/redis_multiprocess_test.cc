// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Real separate processes (tests/redis/redis_worker.cc, fork + exec) sharing
// one breaker set through one redis-server: the combined failures of three
// workers trip a peer none of them would trip alone, every worker sees it,
// and a worker started afterwards learns it.

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "redis_harness.h"

namespace {

using namespace circuit::testing;

struct SkipWithoutRedis {
  SkipWithoutRedis() { RequireRedisOrSkip(); }
};
BOOST_TEST_GLOBAL_FIXTURE(SkipWithoutRedis);

std::string WorkerPath() {
  const char* p = std::getenv("CIRCUIT_REDIS_WORKER");
  return p != nullptr ? p : "./redis_worker";
}

// A worker process with pipes to its stdin and from its stdout.
class Worker {
 public:
  explicit Worker(const std::vector<std::string>& args) {
    int in[2], out[2];
    BOOST_REQUIRE(pipe(in) == 0 && pipe(out) == 0);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      close(in[1]);
      close(out[0]);
      std::vector<char*> argv;
      std::string path = WorkerPath();
      argv.push_back(path.data());
      std::vector<std::string> copy = args;
      for (auto& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(path.c_str(), argv.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to_ = in[1];
    from_ = out[0];
  }
  ~Worker() {
    close(to_);
    close(from_);
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // The next line of output, or "" after `limit`.
  std::string ReadLine(std::chrono::milliseconds limit = std::chrono::seconds(15)) {
    auto end = std::chrono::steady_clock::now() + limit;
    for (;;) {
      auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "";
      pollfd p{from_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return "";
      char tmp[256];
      ssize_t n = read(from_, tmp, sizeof tmp);
      if (n <= 0) return "";
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
  }
  void Go() {
    ssize_t n = write(to_, "go\n", 3);
    (void)n;
  }
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
  std::string buf_;
};

long long MicrosOf(const std::string& line) {
  return line.rfind("open ", 0) == 0 ? std::stoll(line.substr(5)) : -1;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(RedisMultiProcessTest)

BOOST_AUTO_TEST_CASE(CombinedFailuresTripEveryProcessAndLateJoinerLearns) {
  RedisServer server;
  std::string port = std::to_string(server.port());
  std::string prefix = Prefix("mp");

  // max_failures 5: each worker's 2 failures stay below it; 6 do not.
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < 3; ++i) {
    workers.push_back(std::make_unique<Worker>(
        std::vector<std::string>{port, prefix, "shared-peer", "5", "2"}));
  }
  for (auto& w : workers) BOOST_REQUIRE_EQUAL(w->ReadLine(), "ready");
  for (auto& w : workers) w->Go();

  std::vector<long long> seen;
  for (auto& w : workers) {
    std::string line = w->ReadLine();
    BOOST_TEST_MESSAGE("worker: " << line);
    BOOST_TEST(MicrosOf(line) >= 0, "worker said: " << line);
    seen.push_back(MicrosOf(line));
    BOOST_TEST(w->Wait() == 0);
  }

  Worker late({port, prefix, "shared-peer", "5", "0"});
  BOOST_REQUIRE_EQUAL(late.ReadLine(), "ready");
  std::string line = late.ReadLine();
  BOOST_TEST(MicrosOf(line) >= 0, "late joiner said: " << line);
  BOOST_TEST(late.Wait() == 0);
}

BOOST_AUTO_TEST_CASE(BelowTheFleetThresholdNothingTrips) {
  RedisServer server;
  std::string port = std::to_string(server.port());
  std::string prefix = Prefix("mp-below");

  // 3 workers x 1 failure = 3, not more than 5: nobody may see it open.
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < 3; ++i) {
    workers.push_back(std::make_unique<Worker>(
        std::vector<std::string>{port, prefix, "calm-peer", "5", "1"}));
  }
  for (auto& w : workers) BOOST_REQUIRE_EQUAL(w->ReadLine(), "ready");
  for (auto& w : workers) w->Go();

  // They give up after 10 s with "timeout"; the fleet key stays closed.
  for (auto& w : workers) {
    BOOST_TEST(w->ReadLine(std::chrono::seconds(20)) == "timeout");
  }
  BOOST_TEST(server.Cmd({"HGET", "{" + prefix + "}:p:63616c6d2d70656572", "st"}) != "o");
}

BOOST_AUTO_TEST_SUITE_END()
