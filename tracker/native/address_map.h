// Live tracked allocations: address → (site, bytes, count) so that free() can credit the site that
// allocated the block, from any thread, without a global mutex. The map is split into shards by
// address hash, each an open-addressed table (linear probing, backward-shift deletion: no
// tombstones) under its own spinlock, grown by doubling with memory from mmap. In sampled mode only
// sampled allocations are here, and `maybe_contains()` — one byte of a filter indexed like the
// shards, read without a lock — lets free() skip the lock for the ~all blocks that were not
// sampled. A block is removed before the real free() runs, so its address cannot be handed out
// again while its entry is still in the map. Bounded by max_entries (then insert() fails and the
// caller counts the allocation as untracked).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "raw.h"

namespace tidemark::native {

class AddressMap {
public:
    struct Entry {
        uint64_t addr;   // 0 = empty
        uint64_t bytes;  // bytes credited to the site (the size, or its sampled estimate)
        uint32_t site;
        uint32_t count;  // allocations credited (1, or the sampled estimate)
    };

    static constexpr size_t kShards = 256;
    static constexpr size_t kFilterBits = 16;  // filter bytes: 64 Ki

    bool init(uint64_t max_entries) {
        max_per_shard_ = max_entries / kShards + 1;
        filter_ = static_cast<std::atomic<uint8_t>*>(raw_map(size_t{1} << kFilterBits));
        bits_ = static_cast<std::atomic<uint8_t>*>(raw_map(size_t{1} << (kFilterBits - 3)));
        return filter_ != nullptr && bits_ != nullptr;
    }

    // One multiply: the filter test runs on every free() in sampled mode.
    static uint64_t hash(uint64_t addr) { return (addr >> 4) * 0x9E3779B97F4A7C15ULL; }
    static size_t filter_index(uint64_t h) { return static_cast<size_t>(h >> (64 - kFilterBits)); }
    // The 8 filter buckets sharing a bitmap byte belong to one shard, so the byte is only written
    // under that shard's lock.
    static size_t shard_of(size_t fi) { return (fi >> 3) & (kShards - 1); }

    // False when addr is certainly not in the map (no lock taken): one bit of an 8 KiB bitmap
    // (set while the bucket's counter in filter_ is non-zero), so it stays in L1.
    bool maybe_contains(uint64_t addr) const {
        const size_t fi = filter_index(hash(addr));
        return (bits_[fi >> 3].load(std::memory_order_relaxed) >> (fi & 7)) & 1;
    }
    const std::atomic<uint8_t>* bits() const { return bits_; }

    // Sets the filter bit of addr's bucket for good (its count is never given back), so the free()
    // fast path sends addr to the slow path although addr is in no entry: for the bootstrap
    // arena's blocks, which the slow path recognises.
    void pin(uint64_t addr) {
        const size_t fi = filter_index(hash(addr));
        Shard& s = shards_[shard_of(fi)];
        SpinGuard g(s.lock);
        const uint8_t f = filter_[fi].load(std::memory_order_relaxed);
        if (f != 255) filter_[fi].store(static_cast<uint8_t>(f + 1), std::memory_order_relaxed);
        bits_[fi >> 3].store(static_cast<uint8_t>(bits_[fi >> 3].load(std::memory_order_relaxed) | (1u << (fi & 7))),
                             std::memory_order_relaxed);
    }

    // Adds (or replaces: a block the real allocator freed behind our back, e.g. an internal libc
    // realloc, and handed out again) an entry. `replaced` gets the old one. False when full.
    bool insert(const Entry& e, Entry* replaced, bool* had_old) {
        const uint64_t h = hash(e.addr);
        const size_t fi = filter_index(h);
        Shard& s = shards_[shard_of(fi)];
        SpinGuard g(s.lock);
        *had_old = false;
        if (s.used + 1 > s.cap / 2 + s.cap / 4 && !grow(s)) return false;
        for (size_t i = h & (s.cap - 1);; i = (i + 1) & (s.cap - 1)) {
            Entry& x = s.table[i];
            if (x.addr == 0) {
                x = e;
                ++s.used;
                const uint8_t f = filter_[fi].load(std::memory_order_relaxed);
                if (f != 255) filter_[fi].store(static_cast<uint8_t>(f + 1), std::memory_order_relaxed);
                if (f == 0) bits_[fi >> 3].store(static_cast<uint8_t>(bits_[fi >> 3].load(std::memory_order_relaxed) | (1u << (fi & 7))), std::memory_order_relaxed);
                return true;
            }
            if (x.addr == e.addr) {
                *replaced = x;
                *had_old = true;
                x = e;
                return true;
            }
        }
    }

    // Removes addr's entry into *out; false when it was not tracked.
    bool remove(uint64_t addr, Entry* out) {
        const uint64_t h = hash(addr);
        const size_t fi = filter_index(h);
        Shard& s = shards_[shard_of(fi)];
        SpinGuard g(s.lock);
        if (s.cap == 0) return false;
        const size_t mask = s.cap - 1;
        size_t i = h & mask;
        for (;; i = (i + 1) & mask) {
            if (s.table[i].addr == 0) return false;
            if (s.table[i].addr == addr) break;
        }
        *out = s.table[i];
        // Backward-shift deletion: pull later entries of the probe run into the hole.
        size_t hole = i;
        for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
            Entry& x = s.table[j];
            if (x.addr == 0) break;
            const size_t home = hash(x.addr) & mask;
            // x may move into the hole when its home is not within (hole, j] cyclically.
            const bool between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
            if (!between) {
                s.table[hole] = x;
                hole = j;
            }
        }
        s.table[hole].addr = 0;
        --s.used;
        const uint8_t f = filter_[fi].load(std::memory_order_relaxed);
        if (f != 255 && f != 0) filter_[fi].store(static_cast<uint8_t>(f - 1), std::memory_order_relaxed);
        if (f == 1) bits_[fi >> 3].store(static_cast<uint8_t>(bits_[fi >> 3].load(std::memory_order_relaxed) & ~(1u << (fi & 7))), std::memory_order_relaxed);
        return true;
    }

    // Drops every entry (a new attach session: the blocks may have been freed unseen meanwhile).
    // Pinned buckets (pin()) stay pinned only as far as no entry shared them; attach sessions pin none.
    void clear() {
        for (size_t k = 0; k < kShards; ++k) {
            Shard& s = shards_[k];
            SpinGuard g(s.lock);
            for (size_t i = 0; i < s.cap; ++i) {
                Entry& x = s.table[i];
                if (x.addr == 0) continue;
                const size_t fi = filter_index(hash(x.addr));
                const uint8_t f = filter_[fi].load(std::memory_order_relaxed);
                if (f != 255 && f != 0) filter_[fi].store(static_cast<uint8_t>(f - 1), std::memory_order_relaxed);
                if (f == 1) bits_[fi >> 3].store(static_cast<uint8_t>(bits_[fi >> 3].load(std::memory_order_relaxed) & ~(1u << (fi & 7))), std::memory_order_relaxed);
                x.addr = 0;
            }
            s.used = 0;
        }
    }

    uint64_t size() const {
        uint64_t n = 0;
        for (const Shard& s : shards_) n += s.used;  // racy read: for statistics only
        return n;
    }

private:
    struct alignas(64) Shard {
        SpinLock lock;
        Entry* table = nullptr;
        size_t cap = 0;  // power of two, or 0
        size_t used = 0;
    };

    bool grow(Shard& s) {
        const size_t cap = s.cap ? s.cap * 2 : 256;
        if (cap / 2 > max_per_shard_) return false;
        Entry* t = static_cast<Entry*>(raw_map(cap * sizeof(Entry)));
        if (!t) return false;
        for (size_t k = 0; k < s.cap; ++k) {
            const Entry& x = s.table[k];
            if (x.addr == 0) continue;
            for (size_t i = hash(x.addr) & (cap - 1);; i = (i + 1) & (cap - 1)) {
                if (t[i].addr == 0) {
                    t[i] = x;
                    break;
                }
            }
        }
        raw_unmap(s.table, s.cap * sizeof(Entry));
        s.table = t;
        s.cap = cap;
        return true;
    }

    Shard shards_[kShards];
    std::atomic<uint8_t>* filter_ = nullptr;  // per bucket: entries hashed there (saturates at 255)
    std::atomic<uint8_t>* bits_ = nullptr;    // per bucket: filter_ != 0
    uint64_t max_per_shard_ = 0;
};

}  // namespace tidemark::native
