// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Epoch-based reclamation (src/epoch.h): a retired object outlives every
// pin taken before it was retired, and is freed once they are gone.

#include "epoch.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

using circuit::internal::Epoch;
using circuit::internal::EpochGuard;

namespace {

// An object that records its deletion instead of freeing its memory, so a
// reader that still holds it can tell it was reclaimed too early.
struct Tracked {
  std::atomic<bool> alive{true};
  std::atomic<int>* deleted = nullptr;
};

void Poison(void* p) noexcept {
  auto* t = static_cast<Tracked*>(p);
  t->alive.store(false, std::memory_order_release);
  t->deleted->fetch_add(1, std::memory_order_relaxed);
}

struct EpochFixture {
  EpochFixture() { Epoch::Barrier(); }  // start from nothing pending

  Tracked* Make() {
    owned.push_back(std::make_unique<Tracked>());
    owned.back()->deleted = &deleted;
    return owned.back().get();
  }

  std::atomic<int> deleted{0};
  std::vector<std::unique_ptr<Tracked>> owned;  // memory outlives the test
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(EpochTest, EpochFixture)

BOOST_AUTO_TEST_CASE(RetiredObjectIsFreedWhenNothingIsPinned) {
  Tracked* t = Make();

  Epoch::Retire(t, &Poison);
  Epoch::Barrier();

  BOOST_TEST(!t->alive.load());
  BOOST_TEST(deleted.load() == 1);
  BOOST_TEST(Epoch::Pending() == 0u);
}

BOOST_AUTO_TEST_CASE(PinTakenBeforeRetireKeepsTheObjectUntilUnpinned) {
  Tracked* t = Make();
  std::uint32_t token = Epoch::Pin();

  Epoch::Retire(t, &Poison);
  Epoch::TryReclaim();
  Epoch::TryReclaim();

  BOOST_TEST(t->alive.load());
  BOOST_TEST(Epoch::Pending() == 1u);
  Epoch::Unpin(token);
  Epoch::Barrier();
  BOOST_TEST(!t->alive.load());
}

BOOST_AUTO_TEST_CASE(EpochGuardUnpinsAtTheEndOfItsScope) {
  Tracked* t = Make();
  {
    EpochGuard pin;
    Epoch::Retire(t, &Poison);
    Epoch::TryReclaim();
    BOOST_TEST(t->alive.load());
  }

  Epoch::Barrier();

  BOOST_TEST(!t->alive.load());
}

BOOST_AUTO_TEST_CASE(PinMayBeReleasedOnAnotherThread) {
  Tracked* t = Make();
  std::uint32_t token = Epoch::Pin();
  Epoch::Retire(t, &Poison);
  Epoch::TryReclaim();
  BOOST_REQUIRE(t->alive.load());

  std::thread other([token] { Epoch::Unpin(token); });
  other.join();
  Epoch::Barrier();

  BOOST_TEST(!t->alive.load());
}

BOOST_AUTO_TEST_CASE(PinsOfAnotherThreadAlsoHoldObjects) {
  Tracked* t = Make();
  std::atomic<int> stage{0};
  std::thread reader([&] {
    std::uint32_t token = Epoch::Pin();
    stage.store(1);
    while (stage.load() != 2) std::this_thread::yield();
    Epoch::Unpin(token);
  });
  while (stage.load() != 1) std::this_thread::yield();

  Epoch::Retire(t, &Poison);
  Epoch::TryReclaim();
  bool alive_while_pinned = t->alive.load();
  stage.store(2);
  reader.join();
  Epoch::Barrier();

  BOOST_TEST(alive_while_pinned);
  BOOST_TEST(!t->alive.load());
}

BOOST_AUTO_TEST_CASE(ManyRetirementsAreReclaimedWithoutAnExplicitCall) {
  for (int i = 0; i < 1000; ++i) Epoch::Retire(Make(), &Poison);

  BOOST_TEST(deleted.load() > 0);
  BOOST_TEST(Epoch::Pending() < 1000u);
  Epoch::Barrier();
  BOOST_TEST(deleted.load() == 1000);
}

BOOST_AUTO_TEST_CASE(ThreadRecordsAreReusedAfterTheirThreadsExit) {
  for (int i = 0; i < 200; ++i) {
    std::thread([] { EpochGuard pin; }).join();
  }
  Tracked* t = Make();

  Epoch::Retire(t, &Poison);
  Epoch::Barrier();

  BOOST_TEST(!t->alive.load());
}

// Readers pin, load the current object and check it was not reclaimed;
// a writer keeps replacing and retiring it.
BOOST_AUTO_TEST_CASE(ReadersNeverSeeAReclaimedObject) {
  constexpr int kSwaps = 20000;
  std::vector<Tracked*> pool;
  for (int i = 0; i <= kSwaps; ++i) pool.push_back(Make());
  std::atomic<Tracked*> current{pool[0]};
  std::atomic<bool> done{false};
  std::atomic<long> reads{0};
  std::atomic<long> stale{0};

  auto reader = [&] {
    while (!done.load(std::memory_order_relaxed)) {
      EpochGuard pin;
      Tracked* t = current.load(std::memory_order_acquire);
      for (int k = 0; k < 4; ++k) {
        if (!t->alive.load(std::memory_order_acquire)) ++stale;
      }
      ++reads;
    }
  };
  std::thread r0(reader), r1(reader);
  // Progress, not time: let the readers read between batches of swaps, so
  // the two really overlap even when the scheduler favours this thread.
  auto wait_for_reads = [&](long at_least) {
    while (reads.load() < at_least) std::this_thread::yield();
  };
  for (int i = 1; i <= kSwaps; ++i) {
    if (i % 1000 == 1) wait_for_reads(reads.load() + 2);
    Tracked* old = current.exchange(pool[i], std::memory_order_acq_rel);
    Epoch::Retire(old, &Poison);
  }
  done.store(true);
  r0.join();
  r1.join();
  Epoch::Barrier();

  BOOST_TEST(stale.load() == 0);
  BOOST_TEST(reads.load() > 0);
  BOOST_TEST(deleted.load() == kSwaps);
}

BOOST_AUTO_TEST_SUITE_END()
