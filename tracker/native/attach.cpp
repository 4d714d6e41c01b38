// `tidemark attach --native`: the native tracker loaded into a process that is already running.
// The agent (agent/native_inject_ptrace.cpp) stops one thread where it waits in a blocking system
// call, dlopen()s this library on it and calls tidemark_native_attach(). A library loaded late
// interposes nothing (every object's calls to malloc are already bound), so this entry point
// rewrites the GOT slots of the malloc family in every loaded object — JUMP_SLOT and GLOB_DAT
// relocations by symbol name, RELRO pages made writable for the write and read-only again — to
// point at our hooks, whose "real" functions become the process's global definitions (glibc's,
// or jemalloc's if the program links it). Blocks allocated before the attach were never seen:
// their frees and reallocs pass through (as sampled mode's unsampled blocks do).
//
// The session ends when the agent closes the connection (its --duration, Ctrl-C) or goes away:
// the sampler thread then writes every slot back (those still pointing at our hooks) and turns
// tracking off. The library stays loaded, inert (-z nodelete): a thread may be inside a hook at
// any moment, so it can never be unmapped. A later attach finds it loaded and starts a new
// session on the same tables. Not covered: objects dlopen()ed after the attach, calls through
// function pointers stored before the attach, allocations inside glibc that do not go through
// its GOT, mmap/munmap counts (docs/NATIVE.md, "Attaching").
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "loaded_range.h"
#include "tracker.h"

namespace tidemark::native {

namespace {

struct PatchedSlot {
    uintptr_t* slot;
    uintptr_t old;   // what the slot held before (a bound function, or the PLT stub when lazy)
    uintptr_t mine;  // the hook written there
};

constexpr size_t kMaxSlots = 16384;
PatchedSlot* g_slots = nullptr;  // from mmap
size_t g_slot_count = 0;
SpinLock g_slots_lock;  // the attach call and the sampler thread's detach

AttachHook g_hooks[16];
size_t g_hook_count = 0;
uintptr_t g_self_base = 0;

struct PatchStats {
    size_t slots = 0;
    size_t objects = 0;
    size_t failed = 0;  // mprotect refused
};

uintptr_t hook_for(const char* name) {
    for (size_t i = 0; i < g_hook_count; ++i)
        if (std::strcmp(g_hooks[i].name, name) == 0) return g_hooks[i].hook;
    return 0;
}

// Writes v into slot, making its page writable for the write when it lies in the RELRO range
// [relro_lo, relro_hi) (read-only after relocation); false when the kernel refused.
bool write_slot(uintptr_t* slot, uintptr_t v, uintptr_t relro_lo, uintptr_t relro_hi) {
    const uintptr_t a = reinterpret_cast<uintptr_t>(slot);
    if (a >= relro_lo && a < relro_hi) {
        const uintptr_t page_size = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
        void* page = reinterpret_cast<void*>(a & ~(page_size - 1));
        if (::mprotect(page, page_size, PROT_READ | PROT_WRITE) != 0) return false;
        __atomic_store_n(slot, v, __ATOMIC_RELEASE);
        ::mprotect(page, page_size, PROT_READ);
        return true;
    }
    __atomic_store_n(slot, v, __ATOMIC_RELEASE);  // one aligned store: a caller sees old or new
    return true;
}

// The RELRO range of an object, page-aligned as ld.so protects it.
void relro_range(const dl_phdr_info* info, uintptr_t& lo, uintptr_t& hi) {
    lo = hi = 0;
    const uintptr_t page_size = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type != PT_GNU_RELRO) continue;
        lo = (info->dlpi_addr + ph.p_vaddr) & ~(page_size - 1);
        hi = (info->dlpi_addr + ph.p_vaddr + ph.p_memsz) & ~(page_size - 1);
    }
}

bool skipped_object(const dl_phdr_info* info) {
    if (info->dlpi_addr == g_self_base) return true;
    const char* name = info->dlpi_name ? info->dlpi_name : "";
    // The dynamic loader allocates through pointers of its own; the vDSO has no relocations.
    return std::strstr(name, "ld-linux") != nullptr || std::strstr(name, "linux-vdso") != nullptr ||
           std::strstr(name, "linux-gate") != nullptr;
}

int patch_object(dl_phdr_info* info, size_t, void* arg) {
    PatchStats& st = *static_cast<PatchStats*>(arg);
    if (skipped_object(info)) return 0;
    const ElfW(Dyn)* dyn = nullptr;
    for (int i = 0; i < info->dlpi_phnum; ++i)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            dyn = reinterpret_cast<const ElfW(Dyn)*>(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    if (dyn == nullptr) return 0;
    const uintptr_t base = info->dlpi_addr;
    // ld.so has made these absolute in place (a writable .dynamic); unrelocated ones are offsets.
    auto abs = [base](uintptr_t p) { return p < base ? p + base : p; };
    const ElfW(Sym)* symtab = nullptr;
    const char* strtab = nullptr;
    size_t strsz = 0;
    const ElfW(Rela)* jmprel = nullptr;
    size_t jmprel_sz = 0;
    const ElfW(Rela)* rela = nullptr;
    size_t rela_sz = 0;
    bool plt_is_rela = true;
    for (const ElfW(Dyn)* d = dyn; d->d_tag != DT_NULL; ++d) {
        switch (d->d_tag) {
            case DT_SYMTAB: symtab = reinterpret_cast<const ElfW(Sym)*>(abs(d->d_un.d_ptr)); break;
            case DT_STRTAB: strtab = reinterpret_cast<const char*>(abs(d->d_un.d_ptr)); break;
            case DT_STRSZ: strsz = d->d_un.d_val; break;
            case DT_JMPREL: jmprel = reinterpret_cast<const ElfW(Rela)*>(abs(d->d_un.d_ptr)); break;
            case DT_PLTRELSZ: jmprel_sz = d->d_un.d_val; break;
            case DT_RELA: rela = reinterpret_cast<const ElfW(Rela)*>(abs(d->d_un.d_ptr)); break;
            case DT_RELASZ: rela_sz = d->d_un.d_val; break;
            case DT_PLTREL: plt_is_rela = d->d_un.d_val == DT_RELA; break;
            default: break;
        }
    }
    if (symtab == nullptr || strtab == nullptr || !plt_is_rela) return 0;
    uintptr_t relro_lo = 0, relro_hi = 0;
    relro_range(info, relro_lo, relro_hi);
    size_t here = 0;
    auto scan = [&](const ElfW(Rela)* r, size_t bytes) {
        if (r == nullptr) return;
        for (size_t k = 0; k < bytes / sizeof(ElfW(Rela)); ++k) {
            const uint32_t type = ELF64_R_TYPE(r[k].r_info);
            if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) continue;
            const uint32_t sym = ELF64_R_SYM(r[k].r_info);
            if (sym == 0 || symtab[sym].st_name >= strsz) continue;
            const uintptr_t mine = hook_for(strtab + symtab[sym].st_name);
            if (mine == 0) continue;
            auto* slot = reinterpret_cast<uintptr_t*>(base + r[k].r_offset);
            const uintptr_t cur = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
            if (cur == mine) continue;  // patched already
            if (g_slot_count >= kMaxSlots) return;
            if (!write_slot(slot, mine, relro_lo, relro_hi)) {
                ++st.failed;
                continue;
            }
            g_slots[g_slot_count++] = PatchedSlot{slot, cur, mine};
            ++here;
        }
    };
    scan(jmprel, jmprel_sz);
    scan(rela, rela_sz);
    if (here > 0) {
        st.slots += here;
        ++st.objects;
    }
    return 0;
}

// Writes every slot back (only those still holding our hook: something else may have rebound one).
// The RELRO range is found again per slot's object, so it is read from the program headers here.
struct Unpatch {
    size_t restored = 0;
};

int unpatch_object(dl_phdr_info* info, size_t, void* arg) {
    Unpatch& u = *static_cast<Unpatch*>(arg);
    uintptr_t lo = 0, hi = 0;
    loaded_range(info, lo, hi);
    uintptr_t relro_lo = 0, relro_hi = 0;
    relro_range(info, relro_lo, relro_hi);
    for (size_t i = 0; i < g_slot_count; ++i) {
        PatchedSlot& p = g_slots[i];
        const uintptr_t a = reinterpret_cast<uintptr_t>(p.slot);
        if (p.slot == nullptr || a < lo || a >= hi) continue;
        if (__atomic_load_n(p.slot, __ATOMIC_ACQUIRE) == p.mine) write_slot(p.slot, p.old, relro_lo, relro_hi);
        p.slot = nullptr;
        ++u.restored;
    }
    return 0;
}

size_t unpatch_all() {
    SpinGuard g(g_slots_lock);
    Unpatch u;
    dl_iterate_phdr(&unpatch_object, &u);  // an object unloaded meanwhile took its slots with it
    g_slot_count = 0;
    return u.restored;
}

const char* config_value(const char* config, const char* key, char* buf, size_t cap) {
    const size_t klen = std::strlen(key);
    for (const char* line = config; line && *line;) {
        const char* end = std::strchr(line, '\n');
        const size_t len = end ? static_cast<size_t>(end - line) : std::strlen(line);
        if (len > klen && std::strncmp(line, key, klen) == 0 && line[klen] == '=') {
            const size_t vlen = len - klen - 1 < cap - 1 ? len - klen - 1 : cap - 1;
            std::memcpy(buf, line + klen + 1, vlen);
            buf[vlen] = '\0';
            return buf;
        }
        line = end ? end + 1 : nullptr;
    }
    return nullptr;
}

int answer(char* out, size_t cap, int rc, const char* text) {
    if (out && cap) std::snprintf(out, cap, "%s", text);
    return rc;
}

}  // namespace

void attach_session_ended() {
    g_mode.store(static_cast<int>(Mode::Off), std::memory_order_release);
    unpatch_all();
}

}  // namespace tidemark::native

using namespace tidemark::native;

// config: lines "socket=PATH", "mode=sampled|full", "sample=BYTES", "interval=MS". Writes a
// sentence to out (cap bytes) and returns 0 when tracking, else 1 (refused: why), 2 (failed) or 3
// (preloaded: a `tidemark run --native` tracks it already).
// Runs on a thread the agent stopped in a blocking call: no lock of the allocator or the loader
// is held by it.
extern "C" __attribute__((visibility("default"))) int tidemark_native_attach(const char* config, char* out, size_t cap) {
    ThreadState& t = thread_state();
    ++t.guard;
    struct Unguard {
        ThreadState& t;
        ~Unguard() { --t.guard; }
    } unguard{t};
    if (g_mode.load(std::memory_order_acquire) != static_cast<int>(Mode::Off) && g_slot_count == 0)
        return answer(out, cap, 3, "the process is tracked already: it was started under `tidemark run --native`");
    if (g_slot_count != 0 || sampler_running())
        return answer(out, cap, 1, "another attach session is still in progress (or still ending): try again in a moment");
    char socket[512], mode[16], sample[32], interval[16];
    if (!config_value(config, "socket", socket, sizeof socket) || !config_value(config, "mode", mode, sizeof mode))
        return answer(out, cap, 2, "bad configuration from the agent");
    StartConfig c;
    c.mode = std::strcmp(mode, "full") == 0 ? Mode::Full : Mode::Sampled;
    c.mode_name = c.mode == Mode::Full ? "full" : "sampled";
    c.socket = socket;
    c.attached = true;
    if (config_value(config, "sample", sample, sizeof sample)) {
        const double v = std::strtod(sample, nullptr);
        if (v > 0) c.sample_interval = v;
    }
    if (config_value(config, "interval", interval, sizeof interval)) {
        const long v = std::strtol(interval, nullptr, 10);
        if (v >= 10 && v <= 60000) c.interval_ms = static_cast<uint32_t>(v);
    }
    Dl_info self{};
    if (dladdr(reinterpret_cast<void*>(&tidemark_native_attach), &self) == 0)
        return answer(out, cap, 2, "cannot find the library's own address");
    g_self_base = reinterpret_cast<uintptr_t>(self.dli_fbase);
    const char* missing = nullptr;
    if (!use_global_allocator(&missing)) {
        char why[160];
        std::snprintf(why, sizeof why, "the process has no global %s other than ours", missing ? missing : "allocator");
        return answer(out, cap, 1, why);
    }
    g_attached.store(true, std::memory_order_relaxed);
    g_hook_count = attach_hooks(g_hooks, sizeof g_hooks / sizeof g_hooks[0]);
    if (!g_slots) g_slots = static_cast<PatchedSlot*>(raw_map(sizeof(PatchedSlot) * kMaxSlots));
    if (!g_slots) return answer(out, cap, 2, "out of memory");
    if (!start_tracking(c, 0, 0)) return answer(out, cap, 2, "could not start tracking (no connection to the agent)");
    PatchStats st;
    {
        SpinGuard g(g_slots_lock);
        dl_iterate_phdr(&patch_object, &st);
    }
    if (st.slots == 0) {
        // Nothing would ever come through: say so rather than record an empty session.
        attach_session_ended();
        return answer(out, cap, 1, "no object of the process calls the malloc family through a GOT slot (a static binary?)");
    }
    char text[256];
    std::snprintf(text, sizeof text, "%zu allocator slots in %zu objects now lead to the tracker%s", st.slots, st.objects,
                  st.failed ? " (some RELRO pages could not be made writable: those objects are not seen)" : "");
    return answer(out, cap, 0, text);
}
