// Shared fixtures for the trace tests (test_model_trace*.cpp): temp paths, file bytes, sample
// records of every type and a busy multi-keyframe trace, and writer/reader round-trip helpers.
#pragma once

#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>
#include <vector>

#include "tidemark/model/trace/format.h"
#include "tidemark/model/trace/reader.h"
#include "tidemark/model/trace/writer.h"

namespace trace_test {

using namespace tidemark;
using namespace tidemark::model;

constexpr uint64_t kStart = 1'700'000'000'000'000ull;

inline std::string temp_path(const std::string& name) {
    return "/tmp/tidemark-test-" + std::to_string(::getpid()) + "-" + name + ".tidemark";
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes, size_t n) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(n));
}

// A record's identity: its full encoding with a fresh codec.
inline std::vector<uint8_t> bytes_of(const proto::Record& r) {
    proto::Codec codec;
    std::vector<uint8_t> out;
    codec.encode(r, out, true);
    return out;
}

inline proto::StreamSample sample(uint64_t t, uint64_t id, uint64_t readable, uint64_t writable, uint32_t flags = 0) {
    proto::StreamSample s;
    s.t_us = t;
    s.id = id;
    s.flags = flags;
    s.readable_length = readable;
    s.writable_length = writable;
    s.bytes_in = writable * 3;
    s.write_calls = writable / 10;
    return s;
}

// A StreamAggregate whose counters all derive from `created`, so two of them differ everywhere.
inline proto::StreamAggregate aggregate(uint64_t t, uint32_t proc, uint32_t type_str, uint32_t site_str, uint64_t created) {
    proto::StreamAggregate a;
    a.t_us = t;
    a.proc = proc;
    a.type_str = type_str;
    a.site_str = site_str;
    a.kind = proto::kKindReadable | proto::kKindWritable | proto::kKindSiteInferred;
    a.created = created;
    a.promoted = created / 10;
    a.retired = created - created / 10 - 1;
    a.site_inferred = created / 4;
    a.bytes_in = created * 1000;
    a.bytes_pushed = created * 700;
    a.write_calls = created * 3;
    a.push_calls = created * 2;
    a.peak_readable_length = 4096 + created;
    a.peak_writable_length = 8192 + created;
    a.readable_hwm = 16384;
    a.writable_hwm = 65536;
    for (int i = 0; i < proto::kLifetimeBuckets; ++i) a.lifetime_hist[i] = a.retired / 6 + uint64_t(i);
    return a;
}

// One record of every type, in a plausible order.
inline std::vector<proto::Record> one_of_each(uint64_t t) {
    std::vector<proto::Record> v;
    proto::Hello h; h.t_us = t; h.pid = 4242; h.ppid = 1; h.runtime = proto::Runtime::Node;
    h.interval_ms = 100; h.runtime_version = "v20.11.0"; h.cmdline = "node app.js"; h.proc = 0;
    v.emplace_back(h);
    v.emplace_back(proto::StringDef{t + 1, 1, "Writable"});
    v.emplace_back(proto::StringDef{t + 1, 2, "app.js:10"});
    v.emplace_back(proto::ProcessSample{t + 5, 0, 50'000'000, 10'000'000, 20'000'000, 3'000, 2'000, 150, 900, 0});
    proto::StreamCreated c; c.t_us = t + 10; c.id = 7; c.kind = proto::kKindWritable; c.type_str = 1;
    c.site_str = 2; c.writable_hwm = 16384;
    v.emplace_back(c);
    v.emplace_back(sample(t + 20, 7, 0, 100, uint32_t(proto::Flowing::Flowing)));
    v.emplace_back(sample(t + 30, 7, 0, 50'000, uint32_t(proto::Flowing::Flowing) | proto::kFlagNeedDrain));
    v.emplace_back(proto::StreamEvent{t + 40, 7, proto::StreamEventKind::Pipe, 8, 0});
    proto::Pipeline p; p.t_us = t + 45; p.id = 3; p.site_str = 2; p.stages = {7, 0, 8}; p.stage_strs = {0, 2, 0};
    v.emplace_back(p);
    v.emplace_back(proto::CallSite{t + 50, 7, proto::CallSiteKind::WriteAfterFalse, 2, 12});
    v.emplace_back(aggregate(t + 55, 0, 1, 2, 40));
    v.emplace_back(proto::Dropped{t + 60, 0, 3});
    v.emplace_back(proto::StreamEvent{t + 65, 7, proto::StreamEventKind::Error, 0, 2});
    v.emplace_back(proto::Goodbye{t + 70, 0, 1});
    v.emplace_back(proto::ProcessExit{t + 80, 0, -1, 9});
    v.emplace_back(proto::AgentNote{t + 90, "target killed by SIGKILL"});
    return v;
}

// A trace with many records, several keyframes and streams that come and go.
inline std::vector<proto::Record> busy_trace(int seconds) {
    std::vector<proto::Record> v = one_of_each(kStart);
    for (int tick = 1; tick <= seconds * 10; ++tick) {
        const uint64_t t = kStart + uint64_t(tick) * 100'000;
        v.emplace_back(proto::ProcessSample{t, 0, 50'000'000 + uint64_t(tick) * 1000, 10'000'000, 0, 0, 0, 0, 0, 0});
        const uint64_t id = 100 + uint64_t(tick / 20);  // a new stream every 2 s
        if (tick % 20 == 0) {
            proto::StreamCreated c; c.t_us = t; c.id = id; c.kind = proto::kKindReadable;
            c.type_str = 1; c.readable_hwm = 16384;
            v.emplace_back(c);
            if (id > 100) v.emplace_back(proto::StreamEvent{t, id - 1, proto::StreamEventKind::Gone, 0, 0});
        }
        v.emplace_back(sample(t + 1, id, uint64_t(tick % 7) * 1000, 0));
        v.emplace_back(sample(t + 2, 7, 0, 50'000 + uint64_t(tick)));
    }
    return v;
}

inline std::string write_trace(const std::string& name, const std::vector<proto::Record>& records,
                        TraceWriter::Options options = {}) {
    const std::string path = temp_path(name);
    auto created = TraceWriter::create(path, kStart, options);
    REQUIRE(created.status.ok());
    for (const auto& r : records) REQUIRE(created.writer->append(r).ok());
    REQUIRE(created.writer->close().ok());
    return path;
}

inline std::vector<proto::Record> read_all(const std::string& path, std::string* error = nullptr) {
    auto opened = TraceReader::open(path);
    REQUIRE(opened.status.ok());
    std::vector<proto::Record> out;
    proto::Record r;
    ReadResult res;
    while ((res = opened.reader->next(r)) == ReadResult::Record) out.push_back(r);
    if (error) *error = res == ReadResult::Error ? opened.reader->error() : "";
    return out;
}

// The offset of the index chunk of a closed file (from its footer).
inline uint64_t index_offset_of(const std::vector<uint8_t>& bytes) {
    return format::get_u64(bytes.data() + bytes.size() - format::kFooterBytes);
}

// Cuts a closed trace at its index: what an agent killed between two chunks leaves.
inline void drop_footer(const std::string& path) {
    const auto bytes = read_bytes(path);
    write_bytes(path, bytes, size_t(index_offset_of(bytes)));
}

// Rewrites a closed version-3 trace as version 2 wrote it: no Summary chunks, an index without
// the v3 fields, version 2 in the header. (The records of v2 and v3 are the same bytes.)
inline void rewrite_as_v2(const std::string& path, bool with_footer = true) {
    const auto bytes = read_bytes(path);
    const uint64_t index_off = index_offset_of(bytes);
    std::vector<uint8_t> out(bytes.begin(), bytes.begin() + format::kFileHeaderBytes);
    format::put_u16(out.data() + 8, 2);
    format::put_u16(out.data() + 10, 2);
    std::vector<std::pair<uint64_t, uint64_t>> keyframes;
    for (uint64_t off = format::kFileHeaderBytes; off < index_off;) {
        const uint32_t stored = format::get_u32(bytes.data() + off + 8);
        const uint8_t type = bytes[off + 4];
        const uint64_t end = off + format::kChunkHeaderBytes + stored;
        if (type == uint8_t(format::ChunkType::Keyframe)) {
            // The keyframe time is the first 8 bytes of its payload: read it back via a reader later;
            // here keep the original index's time, matched by order below.
            keyframes.emplace_back(0, out.size());
        }
        if (type != uint8_t(format::ChunkType::Summary)) out.insert(out.end(), bytes.begin() + long(off), bytes.begin() + long(end));
        off = end;
    }
    // The original index's entries, in the same order, carry the keyframe times.
    proto::Reader r(bytes.data() + index_off + format::kChunkHeaderBytes,
                    format::get_u32(bytes.data() + index_off + 8));
    const uint64_t n = r.uv();
    REQUIRE(n == keyframes.size());
    for (auto& k : keyframes) { k.first = r.uv(); r.uv(); }
    const uint64_t first = r.uv(), last = r.uv(), records = r.uv();
    if (!with_footer) {
        write_bytes(path, out, out.size());
        return;
    }
    std::vector<uint8_t> index;
    proto::Writer w(index);
    w.uv(keyframes.size());
    for (const auto& [t, off] : keyframes) { w.uv(t); w.uv(off); }
    w.uv(first); w.uv(last); w.uv(records);
    const uint64_t new_index_off = out.size();
    std::vector<uint8_t> h(format::kChunkHeaderBytes);
    format::put_u32(h.data(), format::kChunkMagic);
    h[4] = uint8_t(format::ChunkType::Index);
    format::put_u32(h.data() + 8, uint32_t(index.size()));
    format::put_u32(h.data() + 12, uint32_t(index.size()));
    format::put_u32(h.data() + 16, format::crc32(index.data(), index.size()));
    out.insert(out.end(), h.begin(), h.end());
    out.insert(out.end(), index.begin(), index.end());
    uint8_t footer[format::kFooterBytes];
    format::put_u64(footer, new_index_off);
    format::put_u32(footer + 8, format::crc32(footer, 8));
    format::put_u32(footer + 12, format::kFooterMagic);
    out.insert(out.end(), footer, footer + sizeof footer);
    write_bytes(path, out, out.size());
}

// Seconds since kStart.
inline double secs(uint64_t t_us) { return double(t_us - kStart) / 1e6; }

}  // namespace trace_test
