// Stack capture with a verified per-thread cache over libunwind (see stack_capture.h).
#include "stack_capture.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cstring>

#include "raw.h"

namespace tidemark::native {

namespace {

constexpr size_t kCacheEntries = 256;  // per thread, direct-mapped

struct CacheEntry {
    uintptr_t ra;
    uintptr_t sp;
    uint32_t site;
    uint32_t depth;                 // frames[0] == ra; frames 1..depth-1 verified through slots
    uint32_t slot_offset[kMaxDepth];  // where frame i's return address sits: sp + slot_offset[i]
};

}  // namespace

struct StackCache {
    CacheEntry entries[kCacheEntries];
    StackCacheStats stats;
};

StackCache* new_stack_cache() { return static_cast<StackCache*>(raw_map(sizeof(StackCache))); }
void free_stack_cache(StackCache* c) { raw_unmap(c, sizeof(StackCache)); }
const StackCacheStats& stack_cache_stats(const StackCache* c) { return c->stats; }

namespace {

// Set while this thread is inside unwind(): see sigprocmask below.
__thread bool t_unwinding __attribute__((tls_model("initial-exec"))) = false;

struct UnwindingScope {
    UnwindingScope() { t_unwinding = true; }
    ~UnwindingScope() { t_unwinding = false; }
    UnwindingScope(const UnwindingScope&) = delete;
    UnwindingScope& operator=(const UnwindingScope&) = delete;
};

// Unwinds from here to the root; keeps the frames from the hook's caller on. Returns the depth and
// whether the result may be cached (every slot verified, no frame-pointer based CFA seen).
size_t unwind(uintptr_t ra, uintptr_t caller_sp, uint64_t* frames, uintptr_t* sps, bool& cacheable) {
    cacheable = true;
    const UnwindingScope scope;
    unw_context_t ctx;
    unw_cursor_t cursor;
    if (unw_getcontext(&ctx) != 0 || unw_init_local(&cursor, &ctx) != 0) {
        cacheable = false;
        frames[0] = ra;
        return 1;
    }
    size_t n = 0;
    bool found = false;
    unw_word_t prev_rbp = 0;
    for (int guard = 0; guard < 256 && n < kMaxDepth; ++guard) {
        if (unw_step(&cursor) <= 0) break;
        unw_word_t ip = 0, sp = 0;
        unw_get_reg(&cursor, UNW_REG_IP, &ip);
        unw_get_reg(&cursor, UNW_REG_SP, &sp);
        if (!found) {
            if (ip != ra || sp != caller_sp) continue;
            found = true;
        }
        if (n > 0 && unw_is_signal_frame(&cursor) > 0) cacheable = false;
        // The previous frame's CFA (this frame's sp) equals its rbp + 16: it used the frame pointer
        // as its CFA, so its size may vary between calls. Such stacks are not cached.
        if (n > 0 && prev_rbp + 16 == sp) cacheable = false;
        unw_word_t rbp = 0;
        unw_get_reg(&cursor, UNW_X86_64_RBP, &rbp);
        prev_rbp = rbp;
        frames[n] = ip;
        sps[n] = sp;
        ++n;
    }
    if (!found) {  // the unwinder did not pass through the hook's caller: keep what the hook knows
        cacheable = false;
        frames[0] = ra;
        return 1;
    }
    // Frame i's return address (frames[i]) must sit at sps[i] - 8, and sps must only grow.
    for (size_t i = 0; i < n && cacheable; ++i) {
        if (sps[i] < caller_sp || sps[i] - caller_sp > 0xFFFFFFF0u) cacheable = false;
        else if (*reinterpret_cast<const uint64_t*>(sps[i] - 8) != frames[i]) cacheable = false;
        else if (i > 0 && sps[i] <= sps[i - 1]) cacheable = false;
    }
    return n;
}

}  // namespace

uint32_t capture_site(StackCache* cache, SiteTable& sites, uintptr_t ra, uintptr_t caller_sp) {
    CacheEntry* e = nullptr;
    if (cache) {
        e = &cache->entries[(mix64(ra ^ (caller_sp * 0x9E3779B97F4A7C15ULL)) >> 40) & (kCacheEntries - 1)];
        if (e->ra == ra && e->sp == caller_sp && e->site != kNoSite) {
            const SiteTable::Site& s = sites.site(e->site);
            bool same = true;
            for (uint32_t i = 1; i < e->depth; ++i) {
                if (*reinterpret_cast<const uint64_t*>(caller_sp + e->slot_offset[i]) != s.frames[i]) {
                    same = false;
                    break;
                }
            }
            if (same) {
                ++cache->stats.hits;
                return e->site;
            }
        }
    }
    uint64_t frames[kMaxDepth];
    uintptr_t sps[kMaxDepth];
    bool cacheable = false;
    const size_t n = unwind(ra, caller_sp, frames, sps, cacheable);
    const uint32_t site = sites.intern(frames, n);
    if (!cache) return site;
    ++cache->stats.misses;
    if (!cacheable || site == kNoSite || n == 0) {
        ++cache->stats.uncacheable;
        return site;
    }
    e->ra = ra;
    e->sp = caller_sp;
    e->site = site;
    e->depth = static_cast<uint32_t>(n);
    for (size_t i = 0; i < n; ++i) e->slot_offset[i] = static_cast<uint32_t>(sps[i] - 8 - caller_sp);
    return site;
}

}  // namespace tidemark::native

// libunwind (built with --enable-block-signals, as Debian's is) blocks every signal around each
// lookup of a frame's unwind info that misses its 128-entry per-thread cache: two sigprocmask
// system calls a frame. Node's startup, deep V8 stacks at thousands of distinct sites, made ~2 M
// of them under --native full (`node -e 1` took 40 s on a paravirtualised machine where a system
// call is dear). The masking guards against a signal handler on this thread unwinding (or
// loading a library) in the middle of the lookup; inside our own capture that cannot happen
// through us — the hooks' recursion guard makes a handler's malloc pass straight through — so
// while this thread is in unwind() the calls are answered without a system call. Everyone
// else's calls go to the real one. This interposes only when the library is preloaded.
extern "C" __attribute__((visibility("default"))) int sigprocmask(int how, const sigset_t* set, sigset_t* old) noexcept {
    if (tidemark::native::t_unwinding) {
        if (old != nullptr) sigemptyset(old);  // libunwind hands it back to the paired call, skipped too
        return 0;
    }
    const int r = pthread_sigmask(how, set, old);
    if (r != 0) {
        errno = r;
        return -1;
    }
    return 0;
}
