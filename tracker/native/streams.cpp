// Native streams: the C API's implementations (called from the program's threads) and their
// shipping by the sampler thread (streams.h). The program's calls only touch one slot's atomics —
// no lock, no allocation, no system call — so a producer and a consumer can report concurrently
// and the cost stays a few relaxed adds. The state follows a Node stream's:
//   write(n, full): bytes_in += n, length += n; if the queue was still full from an earlier write
//                   (need_drain set and not drained since) the write is a "write after full" and
//                   its call site (our return address: the wrappers in native_streams.h are always
//                   inlined into the caller) is counted; `full` sets need_drain.
//   read(n):        length -= n; falling below the high-water mark is a drain (need_drain cleared).
//   push / pushes after full: the same on the readable side (need_push).
#include "streams.h"

#include "tidemark/native_streams.h"

#include <atomic>
#include <cstdio>
#include <cstring>

#include "tracker.h"

namespace tidemark::native {

namespace {

constexpr uint32_t kMaxStreams = 1024;
constexpr int kSitesPerStream = 4;
constexpr uint32_t kKindWritable = 1, kKindReadable = 2, kKindObjects = 4;  // native_streams.h

enum SlotState : uint32_t { kFree = 0, kOpening = 1, kOpen = 2, kClosed = 3 };
enum StreamBits : uint32_t {
    kNeedDrain = 1u << 0,
    kNeedPush = 1u << 1,
    kEnded = 1u << 2,
    kFlowingShift = 4,  // 2 bits: Flowing
};

struct SiteSlot {
    std::atomic<uint64_t> ra{0};
    std::atomic<uint64_t> count{0};
};

struct Slot {
    std::atomic<uint32_t> state{kFree};
    // Written by open() before the state turns kOpen, read-only afterwards.
    uint64_t wire_id = 0;
    uint32_t kind = 0;
    uint64_t hwm = 0;
    uint64_t create_ra = 0;
    char name[64] = {};
    // The program's counters.
    std::atomic<uint64_t> write_calls{0}, bytes_in{0}, push_calls{0}, bytes_pushed{0};
    std::atomic<int64_t> length{0};
    std::atomic<uint32_t> bits{0};
    SiteSlot sites[2][kSitesPerStream];  // [0] writes after full, [1] pushes after full
    std::atomic<uint64_t> after_full[2] = {};
    // The sampler's own (never touched by the program).
    bool announced = false;
    uint32_t site_strs[2][kSitesPerStream] = {};
    uint64_t sent_site_counts[2][kSitesPerStream] = {};
    proto::StreamSample last{};
    bool sent_sample = false;
};

constinit Slot g_slots[kMaxStreams];
constinit std::atomic<uint64_t> g_next_wire_id{1};
constinit uint32_t g_next_string = 1;  // the native connection's string ids (sampler thread only)

bool tracking() { return g_mode.load(std::memory_order_relaxed) != static_cast<int>(Mode::Off); }

Slot* slot_of(tidemark_stream* h) { return reinterpret_cast<Slot*>(h); }

void count_site(Slot& s, int side, uint64_t ra) {
    s.after_full[side].fetch_add(1, std::memory_order_relaxed);
    for (SiteSlot& site : s.sites[side]) {
        uint64_t cur = site.ra.load(std::memory_order_acquire);
        if (cur == 0) {
            uint64_t expected = 0;
            if (site.ra.compare_exchange_strong(expected, ra, std::memory_order_acq_rel)) cur = ra;
            else cur = expected;
        }
        if (cur == ra) {
            site.count.fetch_add(1, std::memory_order_relaxed);
            return;
        }
    }
    // More distinct sites than we keep: counted in after_full only.
}

void add_length(Slot& s, int64_t delta) { s.length.fetch_add(delta, std::memory_order_relaxed); }

uint64_t length_of(const Slot& s) {
    const int64_t n = s.length.load(std::memory_order_relaxed);
    return n > 0 ? static_cast<uint64_t>(n) : 0;
}

void on_amount(Slot& s, int side, uint64_t amount, bool full, uint64_t ra) {
    const uint32_t need = side == 0 ? kNeedDrain : kNeedPush;
    if (side == 0) {
        s.write_calls.fetch_add(1, std::memory_order_relaxed);
        s.bytes_in.fetch_add(amount, std::memory_order_relaxed);
    } else {
        s.push_calls.fetch_add(1, std::memory_order_relaxed);
        s.bytes_pushed.fetch_add(amount, std::memory_order_relaxed);
    }
    add_length(s, static_cast<int64_t>(amount));
    if (s.bits.load(std::memory_order_relaxed) & need) count_site(s, side, ra);
    if (full) s.bits.fetch_or(need, std::memory_order_relaxed);
}

// A consumer took data out: below the high-water mark the queue has drained.
void on_length_changed(Slot& s) {
    if (length_of(s) < s.hwm) s.bits.fetch_and(~(kNeedDrain | kNeedPush), std::memory_order_relaxed);
}

char hex_digit(unsigned v) { return static_cast<char>(v < 10 ? '0' + v : 'a' + v - 10); }

// "native:0x…": a raw return address, symbolized by the agent (recorder) into "function (file:line)".
size_t native_site_text(uint64_t ra, char* out) {
    std::memcpy(out, "native:0x", 9);
    size_t n = 9;
    bool started = false;
    for (int shift = 60; shift >= 0; shift -= 4) {
        const unsigned d = static_cast<unsigned>((ra >> shift) & 0xf);
        if (d == 0 && !started && shift > 0) continue;
        started = true;
        out[n++] = hex_digit(d);
    }
    return n;
}

bool def_string(proto::FixedFrameEncoder& e, uint64_t now, std::string_view text, uint32_t& id) {
    const uint32_t want = g_next_string;
    if (!e.string_def(now, want, text)) return false;
    ++g_next_string;
    id = want;
    return true;
}

proto::StreamSample sample_of(const Slot& s) {
    proto::StreamSample x;
    x.id = s.wire_id;
    const uint32_t bits = s.bits.load(std::memory_order_relaxed);
    uint32_t flags = (bits >> kFlowingShift) & proto::kFlowingMask;
    if (bits & kNeedDrain) flags |= proto::kFlagNeedDrain;
    const bool closed = s.state.load(std::memory_order_acquire) == kClosed;
    if (bits & kEnded || closed) {
        if (s.kind & kKindWritable) flags |= proto::kFlagWritableEnded | proto::kFlagFinished;
        if (s.kind & kKindReadable) flags |= proto::kFlagReadableEnded;
    }
    if (closed) flags |= proto::kFlagClosed;
    x.flags = flags;
    const uint64_t len = length_of(s);
    if (s.kind & kKindWritable) x.writable_length = len;
    else x.readable_length = len;
    x.bytes_in = s.bytes_in.load(std::memory_order_relaxed);
    x.bytes_pushed = s.bytes_pushed.load(std::memory_order_relaxed);
    x.writes_after_false = s.after_full[0].load(std::memory_order_relaxed);
    x.pushes_after_false = s.after_full[1].load(std::memory_order_relaxed);
    x.write_calls = s.write_calls.load(std::memory_order_relaxed);
    x.push_calls = s.push_calls.load(std::memory_order_relaxed);
    return x;
}

bool same_sample(const proto::StreamSample& a, const proto::StreamSample& b) {
    return a.flags == b.flags && a.readable_length == b.readable_length && a.writable_length == b.writable_length &&
           a.bytes_in == b.bytes_in && a.bytes_pushed == b.bytes_pushed && a.writes_after_false == b.writes_after_false &&
           a.pushes_after_false == b.pushes_after_false && a.write_calls == b.write_calls && a.push_calls == b.push_calls;
}

// Announces a stream: its name and creation site as strings, then StreamCreated.
bool announce(proto::FixedFrameEncoder& e, uint64_t now, Slot& s) {
    uint32_t type_str = 0, site_str = 0;
    char site[32];
    if (!def_string(e, now, std::string_view(s.name, std::strlen(s.name)), type_str)) return false;
    if (s.create_ra && !def_string(e, now, std::string_view(site, native_site_text(s.create_ra, site)), site_str)) return false;
    uint32_t kind = proto::kKindRegistered;
    if (s.kind & kKindWritable) kind |= proto::kKindWritable;
    if (s.kind & kKindReadable) kind |= proto::kKindReadable;
    if (s.kind & kKindObjects) {
        if (s.kind & kKindWritable) kind |= proto::kKindWritableObjectMode;
        if (s.kind & kKindReadable) kind |= proto::kKindReadableObjectMode;
    }
    return e.stream_created(now, s.wire_id, kind, type_str, site_str, s.kind & kKindReadable ? s.hwm : 0,
                            s.kind & kKindWritable ? s.hwm : 0);
}

bool ship_sites(proto::FixedFrameEncoder& e, uint64_t now, Slot& s) {
    for (int side = 0; side < 2; ++side) {
        for (int i = 0; i < kSitesPerStream; ++i) {
            const uint64_t ra = s.sites[side][i].ra.load(std::memory_order_acquire);
            if (ra == 0) break;
            const uint64_t count = s.sites[side][i].count.load(std::memory_order_relaxed);
            if (count == s.sent_site_counts[side][i]) continue;
            if (!s.site_strs[side][i]) {
                char text[32];
                if (!def_string(e, now, std::string_view(text, native_site_text(ra, text)), s.site_strs[side][i])) return false;
            }
            const auto kind = side == 0 ? proto::CallSiteKind::WriteAfterFalse : proto::CallSiteKind::PushAfterFalse;
            if (!e.call_site(now, s.wire_id, kind, s.site_strs[side][i], count)) return false;
            s.sent_site_counts[side][i] = count;
        }
    }
    return true;
}

}  // namespace

void ship_streams(proto::FixedFrameEncoder& e, uint64_t now) {
    for (Slot& s : g_slots) {
        const uint32_t state = s.state.load(std::memory_order_acquire);
        if (state != kOpen && state != kClosed) continue;
        if (e.free_bytes() < 4096) return;  // full: the rest next tick
        if (!s.announced) {
            if (!announce(e, now, s)) return;
            s.announced = true;
        }
        if (!ship_sites(e, now, s)) return;
        const proto::StreamSample x = sample_of(s);
        if (!s.sent_sample || !same_sample(x, s.last)) {
            if (!e.stream_sample_full(now, x)) return;
            s.last = x;
            s.sent_sample = true;
        }
        if (state == kClosed) {
            if (!e.stream_event(now, s.wire_id, proto::StreamEventKind::Close)) return;
            if (!e.stream_event(now, s.wire_id, proto::StreamEventKind::Gone)) return;
            // Shipped: the slot is free for another stream.
            s.announced = false;
            s.sent_sample = false;
            std::memset(s.site_strs, 0, sizeof s.site_strs);
            std::memset(s.sent_site_counts, 0, sizeof s.sent_site_counts);
            s.state.store(kFree, std::memory_order_release);
        }
    }
}

}  // namespace tidemark::native

// ---- the C API (tidemark/native_streams.h looks these up with dlsym) -----------------------------

using tidemark::native::Slot;
using namespace tidemark::native;

extern "C" {

__attribute__((visibility("default"), noinline)) tidemark_stream* tidemark__open(const char* name, unsigned kind,
                                                                                       uint64_t high_water_mark) {
    const uint64_t ra = reinterpret_cast<uint64_t>(__builtin_return_address(0));
    if (!tracking() || (kind & (kKindWritable | kKindReadable)) == 0) return nullptr;
    for (Slot& s : g_slots) {
        uint32_t expected = kFree;
        if (!s.state.compare_exchange_strong(expected, kOpening, std::memory_order_acq_rel)) continue;
        s.wire_id = g_next_wire_id.fetch_add(1, std::memory_order_relaxed);
        s.kind = kind;
        s.hwm = high_water_mark ? high_water_mark : 1;
        s.create_ra = ra;
        size_t n = 0;
        if (name)
            for (; name[n] && n + 1 < sizeof s.name; ++n) s.name[n] = name[n];
        s.name[n] = '\0';
        if (n == 0) std::memcpy(s.name, "native stream", 14);
        s.write_calls.store(0, std::memory_order_relaxed);
        s.bytes_in.store(0, std::memory_order_relaxed);
        s.push_calls.store(0, std::memory_order_relaxed);
        s.bytes_pushed.store(0, std::memory_order_relaxed);
        s.length.store(0, std::memory_order_relaxed);
        s.bits.store(0, std::memory_order_relaxed);
        for (auto& side : s.sites)
            for (auto& site : side) {
                site.ra.store(0, std::memory_order_relaxed);
                site.count.store(0, std::memory_order_relaxed);
            }
        s.after_full[0].store(0, std::memory_order_relaxed);
        s.after_full[1].store(0, std::memory_order_relaxed);
        s.state.store(kOpen, std::memory_order_release);
        return reinterpret_cast<tidemark_stream*>(&s);
    }
    return nullptr;  // table full
}

__attribute__((visibility("default"), noinline)) void tidemark__write(tidemark_stream* h, uint64_t amount, int full) {
    on_amount(*slot_of(h), 0, amount, full != 0, reinterpret_cast<uint64_t>(__builtin_return_address(0)));
}

__attribute__((visibility("default"), noinline)) void tidemark__push(tidemark_stream* h, uint64_t amount, int full) {
    on_amount(*slot_of(h), 1, amount, full != 0, reinterpret_cast<uint64_t>(__builtin_return_address(0)));
}

__attribute__((visibility("default"))) void tidemark__read(tidemark_stream* h, uint64_t amount, int) {
    Slot& s = *slot_of(h);
    add_length(s, -static_cast<int64_t>(amount));
    on_length_changed(s);
}

__attribute__((visibility("default"))) void tidemark__refused(tidemark_stream* h, uint64_t, int) {
    slot_of(h)->write_calls.fetch_add(1, std::memory_order_relaxed);
}

__attribute__((visibility("default"))) void tidemark__set_length(tidemark_stream* h, uint64_t length, int) {
    Slot& s = *slot_of(h);
    s.length.store(static_cast<int64_t>(length), std::memory_order_relaxed);
    on_length_changed(s);
}

__attribute__((visibility("default"))) void tidemark__drained(tidemark_stream* h, int) {
    slot_of(h)->bits.fetch_and(~(kNeedDrain | kNeedPush), std::memory_order_relaxed);
}

__attribute__((visibility("default"))) void tidemark__set_flowing(tidemark_stream* h, int flowing) {
    Slot& s = *slot_of(h);
    const uint32_t f = static_cast<uint32_t>(flowing < 0 ? 0 : flowing > 2 ? 2 : flowing);
    uint32_t cur = s.bits.load(std::memory_order_relaxed);
    while (!s.bits.compare_exchange_weak(cur, (cur & ~(3u << kFlowingShift)) | (f << kFlowingShift),
                                         std::memory_order_relaxed)) {}
}

__attribute__((visibility("default"))) void tidemark__end(tidemark_stream* h, int) {
    slot_of(h)->bits.fetch_or(kEnded, std::memory_order_relaxed);
}

__attribute__((visibility("default"))) void tidemark__close(tidemark_stream* h, int) {
    Slot& s = *slot_of(h);
    uint32_t expected = kOpen;
    s.state.compare_exchange_strong(expected, kClosed, std::memory_order_acq_rel);
}

}  // extern "C"
