// The native tracker's state and its two operations, account_alloc() and account_free(), which the
// malloc-family hooks (hooks.cpp) call after / before the real allocator. One facade between the
// interception and everything else (as memray's tracking_api): hooks know nothing of tables,
// sampling or the agent; the sampler thread (sampler.cpp) reads the tables and talks to the agent.
//
// Rules every function here keeps (the target must never notice us): no allocation through the
// hooks (memory comes from mmap), no exceptions, no lock held across I/O or an unwind, nothing that
// waits on the agent. Each thread carries a recursion guard: while it is set (inside our own code,
// or in the sampler thread) the hooks pass straight to the real allocator.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "address_map.h"
#include "poisson.h"
#include "site_table.h"
#include "stack_capture.h"
#include "thread_counters.h"

namespace tidemark::native {

enum class Mode : int { Off = 0, Sampled = 1, Full = 2 };

struct ThreadState {
    uint32_t guard;          // > 0: inside the tracker (or the sampler thread): pass through
    bool retired;            // its TLS destructors ran: count into the shared block
    int64_t countdown;       // sampled mode: bytes until the next sample point
    Rng rng;
    StackCache* cache;
    SiteCounter* counters;   // this thread's block (nullptr: not registered yet / shared)
    uint32_t sites_seen;     // 1 + the highest site id this thread counted
};

// The calling thread's state (initial-exec TLS: the hooks reach it without a call).
// Hidden (as every symbol of the library but the hooks): the hooks reach these without a GOT load.
#define TM_HIDDEN __attribute__((visibility("hidden")))
extern __thread ThreadState t_state __attribute__((tls_model("initial-exec"))) TM_HIDDEN;
inline ThreadState& thread_state() { return t_state; }

// Read on every hook call. Off until init() chose a mode; back to Off if the agent goes away.
extern std::atomic<int> g_mode TM_HIDDEN;
// Loaded into a running process by `tidemark attach --native` (attach.cpp) rather than preloaded.
extern std::atomic<bool> g_attached TM_HIDDEN;

struct Globals {
    double sample_interval = 512.0 * 1024;
    SiteTable sites;
    AddressMap live;
    ThreadCounters counters;
    std::atomic<uint64_t> untracked{0};
    std::atomic<uint64_t> mmap_bytes{0};
    std::atomic<uint64_t> munmap_bytes{0};
    std::atomic<uint64_t> mmap_calls{0};
};
extern Globals* g_globals TM_HIDDEN;
inline Globals& globals() { return *g_globals; }
// globals().live's filter bitmap, for the free() fast path (nullptr until tracking starts).
extern const std::atomic<uint8_t>* g_free_filter TM_HIDDEN;

// Called from the library constructor: reads TIDEMARK_SOCKET / TIDEMARK_NATIVE…, claims the
// process, allocates the tables and starts the sampler. Leaves g_mode Off when not tracking.
// [arena, arena + arena_bytes): the bootstrap arena's blocks (hooks.cpp), pinned in free()'s filter
// before tracking starts so that its fast path sends them to the slow path, which knows them.
void init_tracker(uintptr_t arena, size_t arena_bytes);

// What a tracking session needs: from the environment (preload) or from the agent (attach.cpp).
struct StartConfig {
    Mode mode = Mode::Off;
    double sample_interval = 512.0 * 1024;
    const char* socket = nullptr;     // the agent's listening socket
    const char* mode_name = nullptr;  // "sampled" / "full", for Hello
    uint32_t interval_ms = 100;
    bool attached = false;            // loaded into a running process by `tidemark attach --native`
};
// Allocates the tables (once), starts the sampler and turns tracking on. Called again for a later
// attach, it keeps the tables (site ids stay valid) but forgets the live blocks.
bool start_tracking(const StartConfig& c, uintptr_t arena, size_t arena_bytes);

// The allocation `ptr` of `size` bytes was made by the hook returning to `ra` (caller's stack
// pointer `sp`). Sampled mode decides here whether it is sampled.
void account_alloc(void* ptr, size_t size, uintptr_t ra, uintptr_t sp);
// Called before the real free(): credits the block's site if it was tracked.
void account_free(void* ptr);

// A countdown for threads that never sample (off mode): malloc's fast path stays a subtraction.
inline constexpr int64_t kNeverSample = INT64_MAX / 2;

// Sampled mode's fast test, inlined into the hooks: false when the allocation is certainly not
// sampled (the thread's countdown has not reached zero).
inline bool sampled_skip(ThreadState& t, size_t size) {
    t.countdown -= static_cast<int64_t>(size);
    return t.countdown > 0;
}

// attach.cpp / hooks.cpp: the hooks by name, to write into GOT slots, and the switch of the real
// functions to the process's global definitions.
struct AttachHook {
    const char* name;
    uintptr_t hook;
};
size_t attach_hooks(AttachHook* out, size_t cap);
bool use_global_allocator(const char** missing);

// Sampler (sampler.cpp): started by init_tracker; final_flush() runs at exit.
bool start_sampler(const StartConfig& c);
// attach.cpp: the sampler's session ended (the agent closed the connection, or went away) while
// attached: the allocator slots are given back. On the sampler thread.
void attach_session_ended();
// attach.cpp: whether a sampler thread of an earlier session still runs.
bool sampler_running();
void final_flush(int exit_code);
void sampler_after_fork_in_child();

}  // namespace tidemark::native
