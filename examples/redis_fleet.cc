// Three worker processes share one breaker set through Redis. Each sees two
// failures of "payments-db" - too few to trip its own breaker (more than 5
// within 60 s are needed) - but together they make six, and the fleet trips
// the peer in every worker. Each worker reports how long after the failure
// that crossed the threshold it saw the peer open.
//
//   redis_fleet             starts a private redis-server on a free port
//   redis_fleet <port>      uses the Redis already listening on 127.0.0.1:<port>
//
// Exits 0, also (with a message) when redis-server is not installed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "circuit/circuit.h"
#include "circuit/redis_store.h"

namespace {

using Steady = std::chrono::steady_clock;  // CLOCK_MONOTONIC: one per host

constexpr char kPeer[] = "payments-db";
constexpr int kWorkers = 3;

long long NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             Steady::now().time_since_epoch())
      .count();
}

std::optional<std::string> FindRedisServer() {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  path += ":/usr/bin:/usr/sbin";
  std::size_t start = 0;
  while (start < path.size()) {
    std::size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string cand = path.substr(start, end - start) + "/redis-server";
    if (end > start && access(cand.c_str(), X_OK) == 0) return cand;
    start = end + 1;
  }
  return std::nullopt;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

// Whether something on 127.0.0.1:port answers PING with +PONG.
bool Pong(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  timeval tv{0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  bool ok = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      send(fd, "PING\r\n", 6, MSG_NOSIGNAL) == 6) {
    char buf[16] = {};
    ok = recv(fd, buf, sizeof buf - 1, 0) > 0 && std::strncmp(buf, "+PONG", 5) == 0;
  }
  close(fd);
  return ok;
}

// Writes / reads one line on a pipe.
void Say(int fd, const std::string& line) {
  std::string l = line + "\n";
  ssize_t n = write(fd, l.data(), l.size());
  (void)n;
}
std::string Hear(int fd) {
  std::string line;
  char c;
  while (read(fd, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

// One worker process: its own store and set (built after fork()).
int Worker(int id, int port, const std::string& prefix, int in, int out) {
  circuit::RedisOptions r;
  r.port = port;
  r.key_prefix = prefix;
  auto store = std::make_shared<circuit::RedisStore>(r);
  circuit::SetOptions options;
  options.defaults.max_failures = 5;  // opens on the 6th failure in 60 s
  options.store = store;
  circuit::CircuitBreakerSet set(options);

  auto deadline = Steady::now() + std::chrono::seconds(10);
  while (!store->healthy() && Steady::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  Say(out, store->healthy() ? "ready" : "no-redis");
  if (Hear(in) != "go") return 1;

  auto flushed = store->stats().flushes;
  long long last_failure_ns = 0;
  for (int i = 0; i < 2; ++i) {
    try {
      circuit::Context ctx = set.context(kPeer);
      throw std::runtime_error("connection refused");  // a failed call
    } catch (const std::runtime_error&) {
      last_failure_ns = NowNs();
    }
  }
  std::printf("worker %d: 2 failures of %s; its own breaker is %s\n", id, kPeer,
              std::string(circuit::state_name(set.state(kPeer))).c_str());
  std::fflush(stdout);
  // Wait until they reached Redis, so the next worker's add to them.
  while (store->stats().flushes == flushed && Steady::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  Say(out, "sent " + std::to_string(last_failure_ns));

  while (set.state(kPeer) != circuit::State::kOpen && Steady::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  long long seen_ns = NowNs();
  bool open = set.state(kPeer) == circuit::State::kOpen;
  Say(out, open ? "open " + std::to_string(seen_ns) : "timeout");
  Hear(in);  // stay alive until the parent has the report
  return open ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  int port = argc > 1 ? std::atoi(argv[1]) : 0;
  pid_t server = -1;
  if (port == 0) {
    std::optional<std::string> bin = FindRedisServer();
    if (!bin) {
      std::printf("redis-server is not installed; nothing to show "
                  "(apt-get install redis-server)\n");
      return 0;
    }
    port = FreePort();
    server = fork();
    if (server == 0) {
      int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      dup2(devnull, 2);
      std::string p = std::to_string(port);
      execl(bin->c_str(), bin->c_str(), "--port", p.c_str(), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", static_cast<char*>(nullptr));
      _exit(127);
    }
    auto deadline = Steady::now() + std::chrono::seconds(5);
    while (!Pong(port) && Steady::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::printf("started redis-server (pid %d) on 127.0.0.1:%d\n", server, port);
  }
  if (!Pong(port)) {
    std::printf("no Redis answers on 127.0.0.1:%d; nothing to show\n", port);
    if (server > 0) kill(server, SIGKILL), waitpid(server, nullptr, 0);
    return 0;
  }
  std::string prefix = "redis-fleet-example-" + std::to_string(getpid());

  struct Child {
    pid_t pid;
    int to, from;
  };
  std::vector<Child> children;
  std::fflush(stdout);
  for (int i = 0; i < kWorkers; ++i) {
    int down[2], up[2];
    if (pipe(down) != 0 || pipe(up) != 0) return 1;
    pid_t pid = fork();
    if (pid == 0) {
      close(down[1]);
      close(up[0]);
      _exit(Worker(i + 1, port, prefix, down[0], up[1]));
    }
    close(down[0]);
    close(up[1]);
    children.push_back({pid, down[1], up[0]});
  }

  bool ok = true;
  for (auto& c : children) ok = Hear(c.from) == "ready" && ok;
  long long crossing_ns = 0;
  if (ok) {
    // One after the other, so the third worker's failures cross the line.
    for (auto& c : children) {
      Say(c.to, "go");
      std::string sent = Hear(c.from);
      if (sent.rfind("sent ", 0) == 0) crossing_ns = std::stoll(sent.substr(5));
    }
    for (std::size_t i = 0; i < children.size(); ++i) {
      std::string line = Hear(children[i].from);
      if (line.rfind("open ", 0) == 0) {
        double ms = static_cast<double>(std::stoll(line.substr(5)) - crossing_ns) / 1e6;
        std::printf("worker %zu: saw %s open %.3f ms after the failure that "
                    "tripped the fleet\n", i + 1, kPeer, ms < 0 ? 0.0 : ms);
      } else {
        std::printf("worker %zu: did not see the trip (%s)\n", i + 1, line.c_str());
        ok = false;
      }
    }
  } else {
    std::printf("a worker could not reach Redis\n");
  }
  for (auto& c : children) {
    Say(c.to, "bye");
    close(c.to);
    close(c.from);
    int status = 0;
    waitpid(c.pid, &status, 0);
  }
  if (server > 0) {
    kill(server, SIGTERM);
    waitpid(server, nullptr, 0);
  }
  std::printf(ok ? "one peer tripped by the failures of all three workers\n"
                 : "the example did not complete\n");
  return 0;
}
