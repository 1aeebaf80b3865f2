// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// fork() (DESIGN.md section 2; src/epoch.h): a child forked while the
// parent uses a set either uses it normally or fails at once with a clear
// message, and never hangs; a set made in the child always works, and the
// child's reclamation does not wait for threads that exist only in the
// parent.
//
// The parent waits for each child with a time limit (polling waitpid) and
// kills one that does not finish, which fails the test: the limits are
// only there so that a hang is reported rather than waited for.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "absl/status/statusor.h"
#include "circuit/breaker_set.h"
#include "circuit/context.h"
#include "epoch.h"
#include "test_util.h"

namespace circuit::testing {
using internal::Epoch;

namespace {

// GCC 12's AddressSanitizer allocator does not take its own locks around
// fork(): a child forked while another thread is inside malloc can block
// forever on the allocator, before it ever reaches this library (glibc's
// malloc does not have this problem). Under it, the churning thread is
// parked between rounds while a child is forked.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAllocatorLosesForks = true;
#elif defined(__has_feature)
constexpr bool kAllocatorLosesForks = __has_feature(address_sanitizer);
#else
constexpr bool kAllocatorLosesForks = false;
#endif

// How long a child may take; its work takes milliseconds.
constexpr std::chrono::seconds kChildLimit(10);

// Exit codes of a child.
constexpr int kChildOk = 0;
constexpr int kChildCheckFailed = 1;
constexpr int kChildThrew = 3;  // the message is on its stderr

struct ChildResult {
  bool finished = false;  // false: killed at the time limit
  int status = 0;         // from waitpid
  std::string err;        // what it wrote to stderr

  bool Exited(int code) const {
    return finished && WIFEXITED(status) && WEXITSTATUS(status) == code;
  }
  bool Aborted() const {
    return finished && WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
  }
  std::string Describe() const {
    if (!finished) return "hung (killed after the time limit)";
    if (WIFEXITED(status)) {
      return "exited " + std::to_string(WEXITSTATUS(status)) + ": " + err;
    }
    return "killed by signal " + std::to_string(WTERMSIG(status)) + ": " + err;
  }
};

// Runs `child` in a forked process (its return value is the exit code; an
// exception's what() goes to stderr with kChildThrew) and waits for it, at
// most kChildLimit.
ChildResult RunInChild(const std::function<int()>& child) {
  int pipe_fds[2];
  BOOST_REQUIRE(pipe(pipe_fds) == 0);
  std::fflush(nullptr);
  const pid_t parent = getpid();
  pid_t pid = fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    // Dies with its parent, so that a hung grandchild is not left behind
    // when its parent is killed at the time limit.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(kChildCheckFailed);  // it died already
    // Boost.Test's handlers would turn an abort into a test failure inside
    // the child, which then runs on as if it were the test runner.
    for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) {
      signal(sig, SIG_DFL);
    }
    close(pipe_fds[0]);
    dup2(pipe_fds[1], STDERR_FILENO);
    int code;
    try {
      code = child();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "threw: %s\n", e.what());
      code = kChildThrew;
    }
    std::fflush(stderr);
    _exit(code);  // no destructors, atexit handlers or Boost.Test teardown
  }
  close(pipe_fds[1]);
  fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
  ChildResult result;
  const auto deadline = std::chrono::steady_clock::now() + kChildLimit;
  auto drain = [&] {
    char buf[512];
    ssize_t n;
    while ((n = read(pipe_fds[0], buf, sizeof buf)) > 0) result.err.append(buf, n);
  };
  for (;;) {
    pollfd p{pipe_fds[0], POLLIN, 0};
    poll(&p, 1, 10);  // wakes on output or EOF, else every 10 ms
    drain();
    if (waitpid(pid, &result.status, WNOHANG) == pid) {
      result.finished = true;
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &result.status, 0);
      break;
    }
  }
  drain();
  close(pipe_fds[0]);
  return result;
}

// A thread that keeps the library's shared state busy in the parent:
// creates peers in `set` (which evicts, retiring entries), trips and
// closes some, reads snapshots (the counter locks), and builds and drops
// sets with listeners (listener lists, the reclaimer).
class Churn {
 public:
  explicit Churn(CircuitBreakerSet* set) : set_(set) {
    thread_ = std::thread([this] { Run(); });
    WaitForProgress();
  }
  ~Churn() {
    stop_.store(true);
    thread_.join();
  }

  // Returns once the churn thread went round a few more times.
  void WaitForProgress() {
    std::uint64_t start = rounds_.load();
    while (rounds_.load() < start + 3) std::this_thread::yield();
  }

  // Runs `child` in a forked process while the churn goes on, or, where
  // the allocator does not survive fork() (kAllocatorLosesForks), with the
  // churn parked between two rounds.
  ChildResult Fork(const std::function<int()>& child) {
    if constexpr (!kAllocatorLosesForks) return RunInChild(child);
    park_.store(true);
    parked_.wait(false);
    ChildResult r = RunInChild(child);
    parked_.store(false);
    park_.store(false);
    park_.notify_one();
    return r;
  }

 private:
  void Run() {
    std::uint64_t i = 0;
    while (!stop_.load()) {
      if (park_.load()) {
        parked_.store(true);
        parked_.notify_one();
        park_.wait(true);
      }
      for (int k = 0; k < 50; ++k, ++i) {
        std::string peer = "p" + std::to_string(i % 500);
        absl::StatusOr<Context> ctx = set_->try_context(peer);
        if (!ctx.ok()) {
          set_->close(peer);
        } else if (i % 3 == 0) {
          ctx->fail();
        } else {
          ctx->succeed();
        }
      }
      (void)set_->snapshot();
      {
        CircuitBreakerSet temp;
        temp.add_listener(std::make_shared<CountingListener>());
        temp.add_listener(std::make_shared<CountingListener>());
        SucceedOnce(temp, "t" + std::to_string(i % 100));
      }
      rounds_.fetch_add(1);
    }
  }

  CircuitBreakerSet* set_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> park_{false};
  std::atomic<bool> parked_{false};
  std::atomic<std::uint64_t> rounds_{0};
  std::thread thread_;
};

// A context of `set` held by another thread until this object dies.
class HeldElsewhere {
 public:
  HeldElsewhere(CircuitBreakerSet& set, std::string peer) {
    thread_ = std::thread([this, &set, peer = std::move(peer)] {
      Context ctx = set.context(peer);
      held_.store(true);
      held_.notify_one();
      release_.wait(false);
    });
    held_.wait(false);
  }
  ~HeldElsewhere() {
    release_.store(true);
    release_.notify_one();
    thread_.join();
  }

 private:
  std::atomic<bool> held_{false};
  std::atomic<bool> release_{false};
  std::thread thread_;
};

SetOptions ChurnedOptions() {
  SetOptions o;
  o.max_peers = 64;
  o.defaults.max_failures = 1;
  return o;
}

// What a child does with a set of its own: new peers (with eviction),
// trips, snapshots, listeners; then the epoch must drain.
int UseANewSet() {
  SetOptions o;
  o.max_peers = 16;
  o.defaults.max_failures = 0;
  CircuitBreakerSet set(o);
  auto listener = std::make_shared<CountingListener>();
  set.add_listener(listener);
  set.add_listener(std::make_shared<CountingListener>());
  for (int i = 0; i < 300; ++i) SucceedOnce(set, "c" + std::to_string(i));
  set.context("sick").fail();
  if (set.state("sick") != State::kOpen) return kChildCheckFailed;
  if (set.snapshot("sick")->failures != 1) return kChildCheckFailed;
  if (listener->successes.load() != 300) return kChildCheckFailed;
  if (set.size() > 17) return kChildCheckFailed;
  Epoch::Barrier();
  if (Epoch::Pending() != 0) return kChildCheckFailed;
  return kChildOk;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ForkTest)

BOOST_AUTO_TEST_CASE(ChildrenUseNewSetsWhileTheParentChurns) {
  CircuitBreakerSet parent(ChurnedOptions());
  Churn churn(&parent);
  for (int i = 0; i < 20; ++i) {
    churn.WaitForProgress();
    ChildResult r = churn.Fork(UseANewSet);
    BOOST_TEST_CONTEXT("child " << i) {
      BOOST_TEST(r.Exited(kChildOk), r.Describe());
    }
    if (!r.finished) break;  // one hang is enough to know
  }
}

BOOST_AUTO_TEST_CASE(AChildUsingTheParentsSetWorksOrFailsClearly) {
  CircuitBreakerSet parent(ChurnedOptions());
  Churn churn(&parent);
  int worked = 0, failed_clearly = 0;
  for (int i = 0; i < 20; ++i) {
    churn.WaitForProgress();
    ChildResult r = churn.Fork([&] {
      for (int k = 0; k < 200; ++k) {
        std::string peer = "p" + std::to_string(k % 600);  // some are new
        absl::StatusOr<Context> ctx = parent.try_context(peer);
        if (!ctx.ok()) {
          parent.close(peer);
        } else if (k % 2 == 0) {
          ctx->fail();
        } else {
          ctx->succeed();
        }
      }
      (void)parent.snapshot();
      (void)parent.size();
      return UseANewSet();  // and a set of its own works as well
    });
    BOOST_TEST_CONTEXT("child " << i) {
      if (r.Exited(kChildOk)) {
        ++worked;
      } else {
        // A lock of the parent's set was held by the churning thread.
        bool clear = r.err.find("circuit: a CircuitBreakerSet made before "
                                "fork() is used in the child") !=
                     std::string::npos;
        BOOST_TEST((r.Exited(kChildThrew) || r.Aborted()), r.Describe());
        BOOST_TEST(clear, r.Describe());
        BOOST_TEST_MESSAGE(r.Describe());
        ++failed_clearly;
      }
    }
    if (!r.finished) break;
  }
  BOOST_TEST_MESSAGE(worked << " children used the parent's set, "
                            << failed_clearly << " failed with the message");
}

BOOST_AUTO_TEST_CASE(PinsHeldAtForkDoNotStopReclamationInTheChild) {
  CircuitBreakerSet parent;
  // Another thread holds a context of `parent` across the fork (it does not
  // exist in the child), and so does this thread (it does).
  std::optional<HeldElsewhere> other(std::in_place, parent, "held-by-other");
  std::optional<Context> mine(parent.context("held-by-forker"));

  ChildResult r = RunInChild([&] {
    mine.reset();  // the forking thread's own context settles in the child
    if (parent.snapshot("held-by-forker")->successes != 1) {
      return kChildCheckFailed;
    }
    SetOptions o;
    o.max_peers = 1;
    CircuitBreakerSet set(o);  // evicts: retires an entry per new peer
    for (int i = 0; i < 500; ++i) SucceedOnce(set, "r" + std::to_string(i));
    if (Epoch::Pending() == 0) return kChildCheckFailed;  // nothing retired?
    Epoch::Barrier();  // waits for pins: hangs if the other thread's counts
    return Epoch::Pending() == 0 ? kChildOk : kChildCheckFailed;
  });
  BOOST_TEST(r.Exited(kChildOk), r.Describe());

  other.reset();
  mine.reset();
  Epoch::Barrier();  // and the parent drains too
  BOOST_TEST(Epoch::Pending() == 0u);
}

BOOST_AUTO_TEST_CASE(AGrandchildUsesNewSetsToo) {
  if constexpr (circuit::internal::kThreadSanitizer) {
    // ThreadSanitizer kills a child of a multi-threaded process that starts
    // a thread, which this child must do; the other cases still run.
    BOOST_TEST_MESSAGE("skipped under ThreadSanitizer (no threads after fork)");
    return;
  }
  CircuitBreakerSet parent(ChurnedOptions());
  Churn churn(&parent);
  ChildResult r = churn.Fork([] {
    // The child has one thread; give it a second one that holds a context
    // while it forks again.
    CircuitBreakerSet middle;
    ChildResult grandchild;
    {
      HeldElsewhere held(middle, "x");
      grandchild = RunInChild(UseANewSet);
    }
    if (!grandchild.Exited(kChildOk)) {
      std::fprintf(stderr, "grandchild %s\n", grandchild.Describe().c_str());
      return kChildCheckFailed;
    }
    return UseANewSet();
  });
  BOOST_TEST(r.Exited(kChildOk), r.Describe());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace circuit::testing
