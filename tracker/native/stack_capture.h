// Which site an allocation comes from: the stack of return addresses above the allocator hook,
// interned in the SiteTable. A full DWARF unwind (libunwind) costs ~85 ns or more per call, so each
// thread keeps a verified cache of the stacks it has already unwound, keyed by the hook's return
// address and the caller's stack pointer. A hit is checked, not trusted: for every frame of the
// cached stack the return address must still sit in its stack slot (the slot's offset from the
// stack pointer is recorded at the first unwind). With frames whose size is fixed for a given
// return address — every frame whose CFA is the stack pointer plus a constant — equal return
// addresses in the same slots mean the unwinder would walk exactly the same path, so a hit costs a
// few loads instead of an unwind. Stacks with a frame that uses the frame pointer as its CFA (its
// size may vary: alloca, VLAs) or that cross a signal frame are never cached: they are unwound
// every time. The cache is per thread (memory from mmap, released at thread exit) and
// direct-mapped; a conflicting stack simply replaces the entry.
#pragma once

#include <cstddef>
#include <cstdint>

#include "site_table.h"

namespace tidemark::native {

struct StackCache;

// The calling thread's cache (created on first use; nullptr when out of memory).
StackCache* new_stack_cache();
void free_stack_cache(StackCache* c);

// The site of the current allocation. `ra` is the hook's return address (__builtin_return_address
// (0) in the hook) and `caller_sp` the caller's stack pointer after the call returns (the hook's
// frame address + 16: hooks are compiled with frame pointers). kNoSite when the table is full.
uint32_t capture_site(StackCache* cache, SiteTable& sites, uintptr_t ra, uintptr_t caller_sp);

struct StackCacheStats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t uncacheable = 0;
};
const StackCacheStats& stack_cache_stats(const StackCache* c);

}  // namespace tidemark::native
