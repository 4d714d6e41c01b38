// The interposed allocator entry points of libtidemark_native.so (LD_PRELOAD): malloc, calloc,
// realloc, reallocarray, free, posix_memalign, aligned_alloc, memalign, valloc, pvalloc (C++
// operator new/delete arrive through them), and mmap/munmap, which are only counted. Interception
// only: each hook calls the real function (found with dlsym(RTLD_NEXT)) and reports to tracker.h.
//
// Bootstrap: dlsym itself may call calloc/malloc before the real functions are known; those calls
// are served from a small static arena, whose blocks free() recognises and ignores. The slow paths
// are built with frame pointers, so __builtin_frame_address(0) + 16 is the caller's stack pointer,
// which the stack cache keys on (stack_capture.h). Sampled mode's common case — the allocation is
// not sampled, the block freed was not — is a thread-local subtraction in malloc and one filter
// bit in free, each then a tail jump to the real function (docs/NATIVE.md, "Costs measured").
#include <dlfcn.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "tracker.h"

using namespace tidemark::native;

namespace {

using MallocFn = void* (*)(size_t);
using CallocFn = void* (*)(size_t, size_t);
using ReallocFn = void* (*)(void*, size_t);
using FreeFn = void (*)(void*);
using PosixMemalignFn = int (*)(void**, size_t, size_t);
using AlignedFn = void* (*)(size_t, size_t);
using MmapFn = void* (*)(void*, size_t, int, int, int, off_t);
using MunmapFn = int (*)(void*, size_t);

struct Real {
    MallocFn malloc = nullptr;
    CallocFn calloc = nullptr;
    ReallocFn realloc = nullptr;
    FreeFn free = nullptr;
    PosixMemalignFn posix_memalign = nullptr;
    AlignedFn aligned_alloc = nullptr;
    AlignedFn memalign = nullptr;
    MallocFn valloc = nullptr;
    MallocFn pvalloc = nullptr;
    MmapFn mmap = nullptr;
    MunmapFn munmap = nullptr;
};
Real g_real;
std::atomic<int> g_resolve_state{0};  // 0 not yet, 1 resolving, 2 done

// Static arena for allocations made while dlsym runs. Each block is preceded by its size.
alignas(64) unsigned char g_boot[64 * 1024];
std::atomic<size_t> g_boot_used{0};

bool in_boot(const void* p) {
    const auto* c = static_cast<const unsigned char*>(p);
    return c >= g_boot && c < g_boot + sizeof g_boot;
}

void* boot_alloc(size_t n) {
    const size_t need = ((n + 15) & ~size_t{15}) + 16;
    const size_t at = g_boot_used.fetch_add(need, std::memory_order_relaxed);
    if (at + need > sizeof g_boot) return nullptr;
    unsigned char* p = g_boot + at;
    std::memcpy(p, &n, sizeof n);
    return p + 16;  // zeroed: the arena is static storage
}

size_t boot_size(const void* p) {
    size_t n = 0;
    std::memcpy(&n, static_cast<const unsigned char*>(p) - 16, sizeof n);
    return n;
}

template <typename F>
void resolve_one(F& slot, const char* name) {
    slot = reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

// Resolves the real functions once. Returns false while resolution is in progress (the caller is
// dlsym's own allocation: it is served from the arena).
bool resolved() {
    if (__builtin_expect(g_resolve_state.load(std::memory_order_acquire) == 2, 1)) return true;
    int expected = 0;
    if (!g_resolve_state.compare_exchange_strong(expected, 1)) {
        if (expected == 1) return false;  // recursion from dlsym (or another thread meanwhile)
        return true;
    }
    Real r;
    resolve_one(r.malloc, "malloc");
    resolve_one(r.calloc, "calloc");
    resolve_one(r.realloc, "realloc");
    resolve_one(r.free, "free");
    resolve_one(r.posix_memalign, "posix_memalign");
    resolve_one(r.aligned_alloc, "aligned_alloc");
    resolve_one(r.memalign, "memalign");
    resolve_one(r.valloc, "valloc");
    resolve_one(r.pvalloc, "pvalloc");
    resolve_one(r.mmap, "mmap");
    resolve_one(r.munmap, "munmap");
    g_real = r;
    g_resolve_state.store(2, std::memory_order_release);
    return true;
}

inline int mode() { return g_mode.load(std::memory_order_relaxed); }

#define TM_CALLER_SP reinterpret_cast<uintptr_t>(__builtin_frame_address(0)) + 16
#define TM_RA reinterpret_cast<uintptr_t>(__builtin_return_address(0))

// Whether an allocation of n bytes must be reported. Sampled mode decides before the real call
// (the countdown depends only on the size), so an unsampled allocation is a tail call.
inline bool must_account(size_t n) {
    const int m = mode();
    if (m == static_cast<int>(Mode::Off)) return false;
    if (m == static_cast<int>(Mode::Sampled) && sampled_skip(t_state, n)) return false;
    return true;
}

inline void after_alloc(void* p, size_t n, uintptr_t ra, uintptr_t sp) {
    if (must_account(n)) account_alloc(p, n, ra, sp);
}

inline bool in_boot_fast(const void* p) {
    return reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(g_boot) < sizeof g_boot;
}

// free()'s test: does the block need account_free()? Sampled mode: only when the filter bit of its
// bucket is set (blocks of sampled allocations only).
inline bool must_unaccount(const void* p) {
    const int m = mode();
    if (m == static_cast<int>(Mode::Off)) return false;
    if (m == static_cast<int>(Mode::Sampled)) {
        const size_t fi = AddressMap::filter_index(AddressMap::hash(reinterpret_cast<uint64_t>(p)));
        return (g_free_filter[fi >> 3].load(std::memory_order_relaxed) >> (fi & 7)) & 1;
    }
    return true;
}

// The slow paths of malloc() and free(), reached by a tail call from the exported functions, which
// therefore leave the stack as their caller made it: here __builtin_return_address(0) is still
// the allocating code's return address and the frame's top its stack pointer.

// Every malloc() whose countdown ran out: the bootstrap, a thread's first allocation, off mode
// (which then gives the thread a countdown that never ends), full mode (every allocation: the
// countdown stays at zero) and the sampled allocations.
__attribute__((noinline)) void* malloc_slow(size_t n) {
    const MallocFn real = g_real.malloc;
    if (__builtin_expect(real == nullptr, 0)) {
        if (!resolved()) return boot_alloc(n);
        return g_real.malloc(n);
    }
    const int m = mode();
    if (m == static_cast<int>(Mode::Off)) {
        // Loaded by an attach, a hook is only reached between sessions by a call already on its
        // way: the thread keeps taking this path, so that a later session sees its allocations.
        if (!g_attached.load(std::memory_order_relaxed)) t_state.countdown = kNeverSample;
        return real(n);
    }
    if (m == static_cast<int>(Mode::Full)) t_state.countdown = 0;
    void* p = real(n);
    account_alloc(p, n, TM_RA, TM_CALLER_SP);  // sampled mode: draws the next countdown
    return p;
}

__attribute__((noinline)) void free_slow(void* p) {
    if (in_boot_fast(p)) return;  // arena blocks are never really freed
    const FreeFn real = g_real.free;
    if (__builtin_expect(real == nullptr, 0)) return;  // only arena blocks exist before resolution
    if (p && must_unaccount(p)) account_free(p);
    real(p);
}

__attribute__((constructor(101))) void tidemark_native_init() {
    if (!resolved()) return;
    // Resolution is over: no arena block is made after this.
    const size_t used = g_boot_used.load(std::memory_order_relaxed);
    init_tracker(reinterpret_cast<uintptr_t>(g_boot), used < sizeof g_boot ? used : sizeof g_boot);
}

}  // namespace

extern "C" {

// malloc() and free() are the hot pair: their common case in sampled mode (not sampled, not a
// sampled block) is a few instructions and a tail jump to the real allocator, with no frame of
// their own (hence omit-frame-pointer: the slow paths, which need the caller's frame, are reached
// by a tail call and keep frame pointers).
#define TM_FAST_PATH __attribute__((visibility("default"), noinline, optimize("omit-frame-pointer")))

TM_FAST_PATH void* malloc(size_t n) {
    // The countdown is positive only once malloc_slow has run on this thread: the real functions
    // are resolved, and the mode is off (a countdown that never ends) or sampled (not due yet).
    if (__builtin_expect(sampled_skip(t_state, n), 1)) return g_real.malloc(n);
    return malloc_slow(n);
}

TM_FAST_PATH void free(void* p) {
    const int m = mode();
    if (__builtin_expect(m == static_cast<int>(Mode::Sampled), 1)) {
        // One filter bit, set only for the buckets of sampled blocks (tracking has started:
        // the filter exists and the real functions are resolved). free(NULL) passes too.
        const size_t fi = AddressMap::filter_index(AddressMap::hash(reinterpret_cast<uint64_t>(p)));
        // Arena blocks are pinned in the filter (init_tracker), so they take the slow path.
        if (__builtin_expect(!((g_free_filter[fi >> 3].load(std::memory_order_relaxed) >> (fi & 7)) & 1), 1))
            return g_real.free(p);
    } else if (m == static_cast<int>(Mode::Off)) {  // not tracking (or not resolved yet)
        const FreeFn real = g_real.free;
        if (__builtin_expect(real != nullptr && !in_boot_fast(p), 1)) return real(p);
    }
    return free_slow(p);
}

__attribute__((visibility("default"), noinline)) void* calloc(size_t n, size_t size) {
    if (__builtin_expect(!resolved(), 0)) {
        if (size && n > SIZE_MAX / size) return nullptr;
        return boot_alloc(n * size);
    }
    void* p = g_real.calloc(n, size);
    if (p) after_alloc(p, n * size, TM_RA, TM_CALLER_SP);
    return p;
}

__attribute__((visibility("default"), noinline)) void* realloc(void* old, size_t n) {
    if (__builtin_expect(!resolved(), 0)) {
        void* p = boot_alloc(n);
        if (p && old) std::memcpy(p, old, boot_size(old) < n ? boot_size(old) : n);
        return p;
    }
    if (old && in_boot(old)) {
        void* p = g_real.malloc(n);
        if (p) {
            std::memcpy(p, old, boot_size(old) < n ? boot_size(old) : n);
            after_alloc(p, n, TM_RA, TM_CALLER_SP);
        }
        return p;
    }
    if (old && must_unaccount(old)) account_free(old);  // before: its address may be reused
    void* p = g_real.realloc(old, n);
    if (!p && n != 0 && old) {
        // Failed: the old block is still there. It is counted again (at the caller's site).
        after_alloc(old, n, TM_RA, TM_CALLER_SP);
        return p;
    }
    if (p) after_alloc(p, n, TM_RA, TM_CALLER_SP);
    return p;
}

__attribute__((visibility("default"), noinline)) void* reallocarray(void* old, size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) {
        errno = ENOMEM;
        return nullptr;
    }
    if (!resolved()) return nullptr;
    if (old && in_boot(old)) return realloc(old, n * size);
    if (old && must_unaccount(old)) account_free(old);
    void* p = g_real.realloc(old, n * size);
    if (!p && old && n * size != 0) {
        after_alloc(old, n * size, TM_RA, TM_CALLER_SP);
        return p;
    }
    if (p) after_alloc(p, n * size, TM_RA, TM_CALLER_SP);
    return p;
}

__attribute__((visibility("default"), noinline)) int posix_memalign(void** out, size_t align, size_t n) {
    if (!resolved()) return ENOMEM;
    const int rc = g_real.posix_memalign(out, align, n);
    if (rc == 0) after_alloc(*out, n, TM_RA, TM_CALLER_SP);
    return rc;
}

__attribute__((visibility("default"), noinline)) void* aligned_alloc(size_t align, size_t n) {
    if (!resolved()) return nullptr;
    void* p = g_real.aligned_alloc(align, n);
    if (p) after_alloc(p, n, TM_RA, TM_CALLER_SP);
    return p;
}

__attribute__((visibility("default"), noinline)) void* memalign(size_t align, size_t n) {
    if (!resolved()) return nullptr;
    void* p = g_real.memalign(align, n);
    if (p) after_alloc(p, n, TM_RA, TM_CALLER_SP);
    return p;
}

__attribute__((visibility("default"), noinline)) void* valloc(size_t n) {
    if (!resolved()) return nullptr;
    void* p = g_real.valloc(n);
    if (p) after_alloc(p, n, TM_RA, TM_CALLER_SP);
    return p;
}

__attribute__((visibility("default"), noinline)) void* pvalloc(size_t n) {
    if (!resolved()) return nullptr;
    void* p = g_real.pvalloc(n);
    if (p) after_alloc(p, n, TM_RA, TM_CALLER_SP);
    return p;
}

// mmap/munmap are counted apart (not per site): a program's own mappings. glibc's malloc maps its
// large blocks through an internal call, which does not come here.
__attribute__((visibility("default"))) void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
    void* p;
    if (g_real.mmap) p = g_real.mmap(addr, len, prot, flags, fd, off);
    else p = reinterpret_cast<void*>(::syscall(SYS_mmap, addr, len, prot, flags, fd, off));
    if (p != MAP_FAILED && mode() != static_cast<int>(Mode::Off) && !thread_state().guard) {
        globals().mmap_calls.fetch_add(1, std::memory_order_relaxed);
        globals().mmap_bytes.fetch_add(len, std::memory_order_relaxed);
    }
    return p;
}
__attribute__((visibility("default"))) void* mmap64(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
    return mmap(addr, len, prot, flags, fd, off);
}

__attribute__((visibility("default"))) int munmap(void* addr, size_t len) {
    int rc;
    if (g_real.munmap) rc = g_real.munmap(addr, len);
    else rc = static_cast<int>(::syscall(SYS_munmap, addr, len));
    if (rc == 0 && mode() != static_cast<int>(Mode::Off) && !thread_state().guard)
        globals().munmap_bytes.fetch_add(len, std::memory_order_relaxed);
    return rc;
}

}  // extern "C"

// For `tidemark attach --native` (attach.cpp): the hooks' own addresses, reached without the
// GOT (hidden aliases: `&malloc` here would be the process's global malloc, not ours)...
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-attributes"  // the aliases are only ever called through a GOT slot
extern "C" {
TM_HIDDEN void* tm_hook_malloc(size_t) __attribute__((alias("malloc")));
TM_HIDDEN void tm_hook_free(void*) __attribute__((alias("free")));
TM_HIDDEN void* tm_hook_calloc(size_t, size_t) __attribute__((alias("calloc")));
TM_HIDDEN void* tm_hook_realloc(void*, size_t) __attribute__((alias("realloc")));
TM_HIDDEN void* tm_hook_reallocarray(void*, size_t, size_t) __attribute__((alias("reallocarray")));
TM_HIDDEN int tm_hook_posix_memalign(void**, size_t, size_t) __attribute__((alias("posix_memalign")));
TM_HIDDEN void* tm_hook_aligned_alloc(size_t, size_t) __attribute__((alias("aligned_alloc")));
TM_HIDDEN void* tm_hook_memalign(size_t, size_t) __attribute__((alias("memalign")));
TM_HIDDEN void* tm_hook_valloc(size_t) __attribute__((alias("valloc")));
TM_HIDDEN void* tm_hook_pvalloc(size_t) __attribute__((alias("pvalloc")));
TM_HIDDEN void* tm_hook_mmap(void*, size_t, int, int, int, off_t) __attribute__((alias("mmap")));
TM_HIDDEN void* tm_hook_mmap64(void*, size_t, int, int, int, off_t) __attribute__((alias("mmap64")));
TM_HIDDEN int tm_hook_munmap(void*, size_t) __attribute__((alias("munmap")));
}
#pragma GCC diagnostic pop

namespace tidemark::native {

size_t attach_hooks(AttachHook* out, size_t cap) {
    const AttachHook all[] = {
        {"malloc", reinterpret_cast<uintptr_t>(&tm_hook_malloc)},
        {"free", reinterpret_cast<uintptr_t>(&tm_hook_free)},
        {"calloc", reinterpret_cast<uintptr_t>(&tm_hook_calloc)},
        {"realloc", reinterpret_cast<uintptr_t>(&tm_hook_realloc)},
        {"reallocarray", reinterpret_cast<uintptr_t>(&tm_hook_reallocarray)},
        {"posix_memalign", reinterpret_cast<uintptr_t>(&tm_hook_posix_memalign)},
        {"aligned_alloc", reinterpret_cast<uintptr_t>(&tm_hook_aligned_alloc)},
        {"memalign", reinterpret_cast<uintptr_t>(&tm_hook_memalign)},
        {"valloc", reinterpret_cast<uintptr_t>(&tm_hook_valloc)},
        {"pvalloc", reinterpret_cast<uintptr_t>(&tm_hook_pvalloc)},
        // Counted apart, as when preloaded (their real functions: libc's, found at load).
        {"mmap", reinterpret_cast<uintptr_t>(&tm_hook_mmap)},
        {"mmap64", reinterpret_cast<uintptr_t>(&tm_hook_mmap64)},
        {"munmap", reinterpret_cast<uintptr_t>(&tm_hook_munmap)},
    };
    size_t n = 0;
    for (const AttachHook& h : all)
        if (n < cap) out[n++] = h;
    return n;
}

// ...and the real functions become the process's global definitions (what its GOT slots were
// bound to: glibc's, or an allocator the program links, such as jemalloc), not the next object
// after us in our own dependency order, as dlsym(RTLD_NEXT) finds for a preload.
bool use_global_allocator(const char** missing) {
    if (!resolved()) return false;
    Real r = g_real;
    struct {
        void** slot;
        const char* name;
        uintptr_t mine;
    } want[] = {
        {reinterpret_cast<void**>(&r.malloc), "malloc", reinterpret_cast<uintptr_t>(&tm_hook_malloc)},
        {reinterpret_cast<void**>(&r.calloc), "calloc", reinterpret_cast<uintptr_t>(&tm_hook_calloc)},
        {reinterpret_cast<void**>(&r.realloc), "realloc", reinterpret_cast<uintptr_t>(&tm_hook_realloc)},
        {reinterpret_cast<void**>(&r.free), "free", reinterpret_cast<uintptr_t>(&tm_hook_free)},
        {reinterpret_cast<void**>(&r.posix_memalign), "posix_memalign", reinterpret_cast<uintptr_t>(&tm_hook_posix_memalign)},
        {reinterpret_cast<void**>(&r.aligned_alloc), "aligned_alloc", reinterpret_cast<uintptr_t>(&tm_hook_aligned_alloc)},
        {reinterpret_cast<void**>(&r.memalign), "memalign", reinterpret_cast<uintptr_t>(&tm_hook_memalign)},
        {reinterpret_cast<void**>(&r.valloc), "valloc", reinterpret_cast<uintptr_t>(&tm_hook_valloc)},
        {reinterpret_cast<void**>(&r.pvalloc), "pvalloc", reinterpret_cast<uintptr_t>(&tm_hook_pvalloc)},
    };
    for (auto& w : want) {
        void* f = dlsym(RTLD_DEFAULT, w.name);
        if (f == nullptr || reinterpret_cast<uintptr_t>(f) == w.mine) {  // ours: we are preloaded
            *missing = w.name;
            return false;
        }
        *w.slot = f;
    }
    g_real = r;  // no hook of ours is reachable yet: nothing reads this meanwhile
    return true;
}

}  // namespace tidemark::native
