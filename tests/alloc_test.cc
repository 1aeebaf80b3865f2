// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The hot paths allocate nothing (DESIGN.md section 5): admitting and
// settling a call on a closed breaker of an existing peer (by id, through
// `call()`, and through a `PeerHandle`), and rejecting a call through
// `try_context()` once the peer has been rejected before.
//
// Global operator new and delete are replaced by counting versions; a
// `CountAllocations` scope counts the calling thread's allocations only, so
// the test framework's own work is not counted.

#include <cstddef>
#include <cstdlib>
#include <new>
#include <string>
#include <string_view>

#include <boost/test/unit_test.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "circuit/circuit.h"

namespace {

thread_local bool tl_counting = false;
thread_local std::size_t tl_allocations = 0;

void* Allocate(std::size_t n, std::size_t align) {
  if (tl_counting) ++tl_allocations;
  if (n == 0) n = 1;
  void* p = align <= alignof(std::max_align_t)
                ? std::malloc(n)
                : std::aligned_alloc(align, (n + align - 1) / align * align);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

// Counts the allocations the calling thread makes while it lives.
class CountAllocations {
 public:
  CountAllocations() {
    tl_allocations = 0;
    tl_counting = true;
  }
  ~CountAllocations() { tl_counting = false; }
  CountAllocations(const CountAllocations&) = delete;
  CountAllocations& operator=(const CountAllocations&) = delete;

  std::size_t count() const { return tl_allocations; }
};

}  // namespace

void* operator new(std::size_t n) { return Allocate(n, 0); }
void* operator new[](std::size_t n) { return Allocate(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) {
  return Allocate(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return Allocate(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return Allocate(n, 0);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return Allocate(n, 0);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}

namespace {

using circuit::CircuitBreakerSet;
using circuit::Context;
using circuit::ManualClock;
using circuit::SetOptions;

constexpr std::string_view kPeer = "10.0.0.7:443";
// Longer than the inline key of an entry: its key lives on the heap.
constexpr std::string_view kLongPeer =
    "backend-17.payments.prod.svc.cluster.local:8443";

struct Fixture {
  ManualClock clock;
  CircuitBreakerSet set{[this] {
    SetOptions options;
    options.clock = &clock;
    return options;
  }()};

  Fixture() {
    // The peers exist, and this thread's epoch and exception records are
    // registered (first-use work, not the hot path).
    set.context(kPeer).succeed();
    set.context(kLongPeer).succeed();
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(AllocTest, Fixture)

BOOST_AUTO_TEST_CASE(CountingSeesAnAllocation) {
  CountAllocations counted;

  auto* s = new std::string(100, 'x');
  delete s;

  BOOST_TEST(counted.count() >= 1u);
}

BOOST_AUTO_TEST_CASE(ContextSuccessOnExistingPeerAllocatesNothing) {
  CountAllocations counted;

  for (int i = 0; i < 100; ++i) {
    Context ctx = set.context(kPeer);
  }
  {
    Context ctx = set.context(kPeer);
    ctx.succeed();
  }

  BOOST_TEST(counted.count() == 0u);
}

BOOST_AUTO_TEST_CASE(ContextSuccessWithLongPeerIdAllocatesNothing) {
  CountAllocations counted;

  for (int i = 0; i < 100; ++i) {
    Context ctx = set.context(kLongPeer);
  }

  BOOST_TEST(counted.count() == 0u);
}

BOOST_AUTO_TEST_CASE(TryContextSuccessAllocatesNothing) {
  CountAllocations counted;

  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<Context> ctx = set.try_context(kPeer);
    BOOST_TEST(ctx.ok());
  }

  BOOST_TEST(counted.count() == 0u);
}

BOOST_AUTO_TEST_CASE(CallReturningIntAllocatesNothing) {
  int sum = 0;
  CountAllocations counted;

  for (int i = 0; i < 100; ++i) sum += set.call(kPeer, [] { return 2; });

  BOOST_TEST(counted.count() == 0u);
  BOOST_TEST(sum == 200);
}

BOOST_AUTO_TEST_CASE(HandleContextAllocatesNothing) {
  circuit::PeerHandle handle = set.handle(kPeer);
  CountAllocations counted;

  for (int i = 0; i < 100; ++i) {
    Context ctx = handle.context();
  }

  BOOST_TEST(counted.count() == 0u);
}

BOOST_AUTO_TEST_CASE(CopyingAHandleAllocatesNothing) {
  circuit::PeerHandle handle = set.handle(kPeer);
  CountAllocations counted;

  circuit::PeerHandle copy = handle;
  Context ctx = copy.context();

  BOOST_TEST(counted.count() == 0u);
}

BOOST_AUTO_TEST_CASE(RejectionAfterTheFirstAllocatesNothing) {
  set.open(kPeer);
  BOOST_TEST(!set.try_context(kPeer).ok());  // builds the cached status
  CountAllocations counted;

  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<Context> r = set.try_context(kPeer);
    BOOST_TEST(absl::IsUnavailable(r.status()));
  }

  BOOST_TEST(counted.count() == 0u);
}

BOOST_AUTO_TEST_CASE(ForcedOpenRejectionAfterTheFirstAllocatesNothing) {
  set.force_open(kLongPeer);
  BOOST_TEST(!set.try_context(kLongPeer).ok());
  CountAllocations counted;

  absl::StatusOr<Context> r = set.try_context(kLongPeer);

  BOOST_TEST(counted.count() == 0u);
  BOOST_TEST(absl::IsUnavailable(r.status()));
}

BOOST_AUTO_TEST_CASE(HandleRejectionAfterTheFirstAllocatesNothing) {
  circuit::PeerHandle handle = set.handle(kPeer);
  set.open(kPeer);
  BOOST_TEST(!handle.try_context().ok());
  CountAllocations counted;

  absl::StatusOr<Context> r = handle.try_context();

  BOOST_TEST(counted.count() == 0u);
  BOOST_TEST(absl::IsUnavailable(r.status()));
}

BOOST_AUTO_TEST_CASE(StatusReturningCallRejectionAllocatesNothing) {
  set.open(kPeer);
  BOOST_TEST(!set.try_context(kPeer).ok());
  CountAllocations counted;

  absl::Status s = set.call(kPeer, [] { return absl::OkStatus(); });

  BOOST_TEST(counted.count() == 0u);
  BOOST_TEST(absl::IsUnavailable(s));
}

BOOST_AUTO_TEST_SUITE_END()
