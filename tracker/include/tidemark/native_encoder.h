// Allocation-free wire encoder for the native front end (tracker/native). The native tracker runs
// inside malloc's own hooks, so it cannot use protocol.h's Codec (std::vector, std::string,
// std::unordered_map): this encoder writes framed records — | u32 LE length | record | — into a
// buffer the caller owns (mmap'd by the tracker), with exactly the byte layout protocol.h's Codec
// decodes (the unit tests decode its output with proto::Codec). std-only, header-only, no
// exceptions, no allocation.
//
// A record either fits whole or is not written at all: the frame is built in place and rolled back
// when the buffer is full, and the time-delta state advances only for records that were written, so
// a record dropped for lack of space never desynchronises the agent's decoder (the same rule as
// tracker/node/record_sink.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "tidemark/protocol.h"

namespace tidemark::proto {

class FixedFrameEncoder {
public:
    FixedFrameEncoder(uint8_t* buffer, size_t capacity) : buf_(buffer), cap_(capacity) {}

    const uint8_t* data() const { return buf_; }
    size_t size() const { return len_; }
    size_t free_bytes() const { return cap_ - len_; }
    // Forgets the first n bytes (they were sent); the rest moves to the front.
    void consume(size_t n) {
        if (n >= len_) { len_ = 0; return; }
        std::memmove(buf_, buf_ + n, len_ - n);
        len_ -= n;
    }
    void clear() { len_ = 0; }
    uint64_t last_time_us() const { return prev_t_us_; }

    // Hello: u8 type=1 | sv dt | uv wire_version | uv pid | uv ppid | u8 runtime | uv interval_ms
    //        | str runtime_version | str cmdline | uv proc (0) | [uv thread_id]
    bool hello(uint64_t t_us, uint32_t pid, uint32_t ppid, Runtime runtime, uint32_t interval_ms,
               std::string_view runtime_version, std::string_view cmdline) {
        Frame f(*this, RecordType::Hello, t_us);
        f.uv(kWireVersion); f.uv(pid); f.uv(ppid); f.u8(static_cast<uint8_t>(runtime));
        f.uv(interval_ms); f.str(runtime_version); f.str(cmdline); f.uv(0);
        return f.commit();
    }

    // ProcessSample: u8 type=3 | sv dt | uv proc | uv rss | uv heap_used | uv heap_total | uv external
    //                | uv array_buffers | uv loop_mean | uv loop_max | uv native_live_bytes
    bool process_sample(uint64_t t_us, uint64_t rss_bytes, uint64_t native_live_bytes) {
        Frame f(*this, RecordType::ProcessSample, t_us);
        f.uv(0); f.uv(rss_bytes);
        for (int i = 0; i < 6; ++i) f.uv(0);
        f.uv(native_live_bytes);
        return f.commit();
    }

    // Dropped: u8 type=9 | sv dt | uv proc | uv records (cumulative)
    bool dropped(uint64_t t_us, uint64_t records) {
        Frame f(*this, RecordType::Dropped, t_us);
        f.uv(0); f.uv(records);
        return f.commit();
    }

    // Goodbye: u8 type=10 | sv dt | uv proc | sv exit_code
    bool goodbye(uint64_t t_us, int32_t exit_code) {
        Frame f(*this, RecordType::Goodbye, t_us);
        f.uv(0); f.sv(exit_code);
        return f.commit();
    }

    // NativeModules: u8 type=64 | sv dt | uv proc | uv generation | uv n
    //                | n × (uv load_bias | uv start | uv end | str path)
    // `get(i, module_fields…)` supplies module i; paths are string_views into the caller's memory.
    struct ModuleView {
        uint64_t load_bias = 0, start = 0, end = 0;
        std::string_view path;
    };
    bool native_modules(uint64_t t_us, uint64_t generation, const ModuleView* modules, size_t n) {
        if (n > kMaxNativeModules) n = kMaxNativeModules;
        Frame f(*this, RecordType::NativeModules, t_us);
        f.uv(0); f.uv(generation); f.uv(n);
        for (size_t i = 0; i < n; ++i) {
            f.uv(modules[i].load_bias); f.uv(modules[i].start); f.uv(modules[i].end); f.str(modules[i].path);
        }
        return f.commit();
    }

    // NativeStack: u8 type=65 | sv dt | uv proc | uv site | uv n | n × sv frame delta
    bool native_stack(uint64_t t_us, uint32_t site, const uint64_t* frames, size_t n) {
        if (n > kMaxNativeFrames) n = kMaxNativeFrames;
        Frame f(*this, RecordType::NativeStack, t_us);
        f.uv(0); f.uv(site); f.uv(n);
        uint64_t prev = 0;
        for (size_t i = 0; i < n; ++i) {
            f.sv(static_cast<int64_t>(frames[i] - prev));
            prev = frames[i];
        }
        return f.commit();
    }

    // NativeSites: u8 type=66 | sv dt | uv proc | uv n
    //              | n × (uv site | uv allocs | uv alloc_bytes | uv frees | uv freed_bytes)
    bool native_sites(uint64_t t_us, const NativeSiteCounters* sites, size_t n) {
        if (n > kMaxNativeSitesPerRecord) n = kMaxNativeSitesPerRecord;
        Frame f(*this, RecordType::NativeSites, t_us);
        f.uv(0); f.uv(n);
        for (size_t i = 0; i < n; ++i) {
            const NativeSiteCounters& c = sites[i];
            f.uv(c.site); f.uv(c.allocs); f.uv(c.alloc_bytes); f.uv(c.frees); f.uv(c.freed_bytes);
        }
        return f.commit();
    }

    // NativeStatus: u8 type=67 | sv dt | uv proc | u8 mode | uv sample_interval_bytes | uv live_bytes
    //               | uv mmap_bytes | uv munmap_bytes | uv mmap_calls | uv untracked | uv sites
    bool native_status(uint64_t t_us, const NativeStatus& s) {
        Frame f(*this, RecordType::NativeStatus, t_us);
        f.uv(0); f.u8(static_cast<uint8_t>(s.mode)); f.uv(s.sample_interval_bytes); f.uv(s.live_bytes);
        f.uv(s.mmap_bytes); f.uv(s.munmap_bytes); f.uv(s.mmap_calls); f.uv(s.untracked); f.uv(s.sites);
        return f.commit();
    }

    // StreamCreated: u8 type=4 | sv dt | uv proc | uv id | uv kind | uv type_str | uv site_str
    //                | uv readable_hwm | uv writable_hwm
    bool stream_created(uint64_t t_us, uint64_t id, uint32_t kind, uint32_t type_str, uint32_t site_str,
                        uint64_t readable_hwm, uint64_t writable_hwm) {
        Frame f(*this, RecordType::StreamCreated, t_us);
        f.uv(0); f.uv(id); f.uv(kind); f.uv(type_str); f.uv(site_str); f.uv(readable_hwm); f.uv(writable_hwm);
        return f.commit();
    }

    // StringDef: u8 type=2 | sv dt | uv id | str text
    bool string_def(uint64_t t_us, uint32_t id, std::string_view text) {
        Frame f(*this, RecordType::StringDef, t_us);
        f.uv(id); f.str(text);
        return f.commit();
    }

    // StreamSample with every field (mask = kAllSampleFields): u8 type=5 | sv dt | uv id | uv mask
    //   | uv flags | 8 × uv field
    bool stream_sample_full(uint64_t t_us, const StreamSample& s) {
        Frame f(*this, RecordType::StreamSample, t_us);
        f.uv(s.id); f.uv(kAllSampleFields); f.uv(s.flags);
        f.uv(s.readable_length); f.uv(s.writable_length); f.uv(s.bytes_in); f.uv(s.bytes_pushed);
        f.uv(s.writes_after_false); f.uv(s.pushes_after_false); f.uv(s.write_calls); f.uv(s.push_calls);
        return f.commit();
    }

    // StreamEvent: u8 type=6 | sv dt | uv id | u8 kind | uv other | uv str
    bool stream_event(uint64_t t_us, uint64_t id, StreamEventKind kind) {
        Frame f(*this, RecordType::StreamEvent, t_us);
        f.uv(id); f.u8(static_cast<uint8_t>(kind)); f.uv(0); f.uv(0);
        return f.commit();
    }

    // CallSite: u8 type=8 | sv dt | uv id | u8 kind | uv site_str | uv count
    bool call_site(uint64_t t_us, uint64_t id, CallSiteKind kind, uint32_t site_str, uint64_t count) {
        Frame f(*this, RecordType::CallSite, t_us);
        f.uv(id); f.u8(static_cast<uint8_t>(kind)); f.uv(site_str); f.uv(count);
        return f.commit();
    }

private:
    // One framed record under construction at the end of the buffer.
    class Frame {
    public:
        Frame(FixedFrameEncoder& e, RecordType type, uint64_t t_us) : e_(e), start_(e.len_), pos_(e.len_ + 4), t_us_(t_us) {
            u8(static_cast<uint8_t>(type));
            sv(static_cast<int64_t>(t_us - e.prev_t_us_));
        }
        void u8(uint8_t v) {
            if (pos_ >= e_.cap_) { ok_ = false; return; }
            e_.buf_[pos_++] = v;
        }
        void uv(uint64_t v) {
            while (v >= 0x80) { u8(static_cast<uint8_t>(v | 0x80)); v >>= 7; }
            u8(static_cast<uint8_t>(v));
        }
        void sv(int64_t v) { uv((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
        void str(std::string_view s) {
            if (s.size() > kMaxStringBytes) s = s.substr(0, kMaxStringBytes);
            uv(s.size());
            if (!ok_ || e_.cap_ - pos_ < s.size()) { ok_ = false; return; }
            std::memcpy(e_.buf_ + pos_, s.data(), s.size());
            pos_ += s.size();
        }
        bool commit() {
            const size_t len = pos_ - start_ - 4;
            if (!ok_ || start_ + 4 > e_.cap_ || len > kMaxRecordBytes) return false;  // nothing written
            for (int i = 0; i < 4; ++i) e_.buf_[start_ + static_cast<size_t>(i)] = static_cast<uint8_t>(len >> (8 * i));
            e_.len_ = pos_;
            e_.prev_t_us_ = t_us_;
            return true;
        }
    private:
        FixedFrameEncoder& e_;
        size_t start_;
        size_t pos_;
        uint64_t t_us_;
        bool ok_ = true;
    };

    uint8_t* buf_;
    size_t cap_;
    size_t len_ = 0;
    uint64_t prev_t_us_ = 0;
};

}  // namespace tidemark::proto
