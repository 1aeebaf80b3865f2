// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0

#include "peer_table.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <new>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "epoch.h"

namespace circuit::internal {
namespace {

constexpr std::size_t kInitialCapacity = 16;

// Min-heap on era.
struct OlderFirst {
  bool operator()(const std::pair<std::uint64_t, Entry*>& a,
                  const std::pair<std::uint64_t, Entry*>& b) const {
    return a.first > b.first;
  }
};

}  // namespace

// ---------------------------------------------------------------------------
// Entry

Entry::Entry(std::string_view key, std::uint64_t key_hash, const Policy* policy)
    : hash(key_hash), era(0), key_len(static_cast<std::uint32_t>(key.size())),
      breaker(policy, key_hash) {
  if (key.size() <= kInlineKey) {
    std::memcpy(key_inline, key.data(), key.size());
  } else {
    key_heap = new char[key.size()];
    std::memcpy(key_heap, key.data(), key.size());
  }
}

Entry::~Entry() {
  if (key_len > kInlineKey) delete[] key_heap;
  delete rejection.load(std::memory_order_acquire);
}

Entry* Entry::Create(std::string_view key, std::uint64_t hash,
                     const Policy* policy) {
  auto* e = new Entry(key, hash, policy);
  try {
    e->breaker.SetPolicy(policy);  // sizes the failure history
  } catch (...) {
    delete e;
    throw;
  }
  return e;
}

void Entry::Destroy(void* entry) noexcept { delete static_cast<Entry*>(entry); }

const absl::Status& Entry::RejectionStatus() {
  absl::Status* s = rejection.load(std::memory_order_acquire);
  if (s != nullptr) return *s;
  std::string_view k = key();
  auto* fresh = new absl::Status(absl::UnavailableError(
      absl::StrCat("circuit open for peer '", absl::string_view(k.data(), k.size()),
                   "'")));
  if (rejection.compare_exchange_strong(s, fresh, std::memory_order_acq_rel)) {
    return *fresh;
  }
  delete fresh;  // another thread built it first
  return *s;
}

// ---------------------------------------------------------------------------
// PeerTable

PeerTable::Table::Table(std::size_t capacity)
    : mask(capacity - 1), slots(new std::atomic<Entry*>[capacity]) {
  for (std::size_t i = 0; i < capacity; ++i) {
    slots[i].store(nullptr, std::memory_order_relaxed);
  }
}

PeerTable::PeerTable() : table_(new Table(kInitialCapacity)) {}

PeerTable::~PeerTable() {
  Table* t = table_.load(std::memory_order_acquire);
  for (std::size_t i = 0; i <= t->mask; ++i) {
    Entry* e = t->slots[i].load(std::memory_order_relaxed);
    if (e != nullptr && e != Tombstone()) Entry::Destroy(e);
  }
  delete t;
}

void PeerTable::DeleteTable(void* t) noexcept { delete static_cast<Table*>(t); }

std::uint64_t PeerTable::Hash(std::string_view key) noexcept {
  return absl::Hash<absl::string_view>{}(absl::string_view(key.data(), key.size()));
}

Entry* PeerTable::Find(std::string_view key, std::uint64_t hash) const noexcept {
  const Table* t = table_.load(std::memory_order_acquire);
  for (std::size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
    Entry* e = t->slots[i].load(std::memory_order_acquire);
    if (e == nullptr) return nullptr;
    if (e != Tombstone() && e->hash == hash && e->key() == key) return e;
  }
}

Entry* PeerTable::Insert(std::string_view key, std::uint64_t hash,
                         const Policy* policy, bool* created) {
  MutexLock lock(&mu_);
  return InsertLocked(key, hash, policy, created);
}

Entry* PeerTable::AcquireHandle(std::string_view key, std::uint64_t hash,
                                const Policy* policy) {
  MutexLock lock(&mu_);
  bool created = false;
  Entry* e = InsertLocked(key, hash, policy, &created);
  e->handles.fetch_add(1, std::memory_order_relaxed);
  return e;
}

Entry* PeerTable::InsertLocked(std::string_view key, std::uint64_t hash,
                               const Policy* policy, bool* created) {
  *created = false;
  if (Entry* e = Find(key, hash)) return e;
  // Keep the load (live + tombstones) at most 3/4 so probes always end.
  Table* t = table_.load(std::memory_order_relaxed);
  if ((used_ + 1) * 4 > (t->mask + 1) * 3) {
    GrowLocked();
    t = table_.load(std::memory_order_relaxed);
  }
  Entry* e = Entry::Create(key, hash, policy);
  std::size_t i = hash & t->mask;
  while (t->slots[i].load(std::memory_order_relaxed) != nullptr) {
    i = (i + 1) & t->mask;
  }
  if (evicting_) {
    std::uint64_t era = era_.fetch_add(1, std::memory_order_relaxed) + 1;
    e->era.store(era, std::memory_order_relaxed);
    try {
      QueueLocked(e, era);
    } catch (...) {
      Entry::Destroy(e);
      throw;
    }
  }
  t->slots[i].store(e, std::memory_order_release);  // publishes the entry
  ++used_;
  size_.fetch_add(1, std::memory_order_relaxed);
  *created = true;
  return e;
}

void PeerTable::GrowLocked() {
  Table* old = table_.load(std::memory_order_relaxed);
  std::size_t live = size_.load(std::memory_order_relaxed);
  std::size_t capacity = kInitialCapacity;
  while (capacity < (live + 1) * 2) capacity *= 2;  // load <= 1/2 after
  auto* fresh = new Table(capacity);
  for (std::size_t i = 0; i <= old->mask; ++i) {
    Entry* e = old->slots[i].load(std::memory_order_relaxed);
    if (e == nullptr || e == Tombstone()) continue;
    std::size_t j = e->hash & fresh->mask;
    while (fresh->slots[j].load(std::memory_order_relaxed) != nullptr) {
      j = (j + 1) & fresh->mask;
    }
    fresh->slots[j].store(e, std::memory_order_relaxed);
  }
  used_ = live;
  table_.store(fresh, std::memory_order_release);
  Epoch::Retire(old, &DeleteTable);  // readers may still probe it
}

bool PeerTable::EvictableLocked(const Entry* e) const {
  return e->handles.load(std::memory_order_relaxed) == 0 &&
         e->breaker.IsClosed();
}

void PeerTable::UnlinkLocked(Entry* e) {
  Table* t = table_.load(std::memory_order_relaxed);
  for (std::size_t i = e->hash & t->mask;; i = (i + 1) & t->mask) {
    Entry* x = t->slots[i].load(std::memory_order_relaxed);
    if (x == nullptr) return;  // not in the table (cannot happen)
    if (x == e) {
      // A tombstone, not null: later keys of this probe chain stay reachable.
      t->slots[i].store(Tombstone(), std::memory_order_release);
      break;
    }
  }
  e->unlinked = true;
  size_.fetch_sub(1, std::memory_order_relaxed);
  Epoch::Retire(e, &Entry::Destroy);
}

void PeerTable::QueueLocked(Entry* e, std::uint64_t era) {
  e->queued_era = era;
  lru_.emplace_back(era, e);
  std::push_heap(lru_.begin(), lru_.end(), OlderFirst{});
}

bool PeerTable::PopOldestLocked(std::uint64_t* era, Entry** e) {
  if (lru_.empty()) return false;
  std::pop_heap(lru_.begin(), lru_.end(), OlderFirst{});
  *era = lru_.back().first;
  *e = lru_.back().second;
  lru_.pop_back();
  return true;
}

std::size_t PeerTable::EvictOverCap(std::size_t cap) {
  MutexLock lock(&mu_);
  std::size_t dropped = 0;
  // Each entry is looked at a bounded number of times per call, so a table
  // full of open peers cannot spin here.
  std::size_t budget = 2 * lru_.size() + 1;
  std::uint64_t now_era = era_.load(std::memory_order_relaxed);
  while (size_.load(std::memory_order_relaxed) > cap && budget-- > 0) {
    std::uint64_t era;
    Entry* e;
    if (!PopOldestLocked(&era, &e)) break;
    std::uint64_t stamp = e->era.load(std::memory_order_relaxed);
    if (stamp > era) {
      QueueLocked(e, stamp);  // used since it was queued
    } else if (EvictableLocked(e)) {
      UnlinkLocked(e);
      ++dropped;
    } else {
      QueueLocked(e, now_era);  // busy (open, handled): look again later
    }
  }
  return dropped;
}

std::size_t PeerTable::SweepIdle(std::int64_t now_ns, std::int64_t idle_ns) {
  MutexLock lock(&mu_);
  // A checkpoint: entries stamped before this era were last used before now.
  if (checkpoints_.empty() ||
      now_ns - checkpoints_.back().second >= std::max<std::int64_t>(1, idle_ns / 8)) {
    std::uint64_t era = era_.fetch_add(1, std::memory_order_relaxed) + 1;
    checkpoints_.emplace_back(era, now_ns);
  }
  // The newest checkpoint at least idle_ns old gives the cut-off era.
  std::uint64_t cut = 0;
  while (!checkpoints_.empty() && checkpoints_.front().second <= now_ns - idle_ns) {
    cut = checkpoints_.front().first;
    if (checkpoints_.size() >= 2 && checkpoints_[1].second <= now_ns - idle_ns) {
      checkpoints_.pop_front();
      continue;
    }
    break;
  }
  if (cut == 0) return 0;
  std::size_t dropped = 0;
  std::size_t budget = 2 * lru_.size() + 1;
  std::uint64_t now_era = era_.load(std::memory_order_relaxed);
  while (!lru_.empty() && lru_.front().first < cut && budget-- > 0) {
    std::uint64_t era;
    Entry* e;
    PopOldestLocked(&era, &e);
    std::uint64_t stamp = e->era.load(std::memory_order_relaxed);
    if (stamp > era) {
      QueueLocked(e, stamp);
    } else if (EvictableLocked(e)) {
      UnlinkLocked(e);
      ++dropped;
    } else {
      QueueLocked(e, now_era);
    }
  }
  return dropped;
}

}  // namespace circuit::internal
