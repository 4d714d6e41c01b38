// Trace file tests: every record type survives writer → reader; keyframes let a reader start
// mid-file; a cut, flipped or foreign file gives a clear error (never a crash) and the records
// before the damage; the version window; a size figure for an idle 1,000-stream trace.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "model/trace_format.h"
#include "model/trace_reader.h"
#include "model/trace_writer.h"

using namespace tidemark;
using namespace tidemark::model;

namespace {

constexpr uint64_t kStart = 1'700'000'000'000'000ull;

std::string temp_path(const std::string& name) {
    return "/tmp/tidemark-test-" + std::to_string(::getpid()) + "-" + name + ".tidemark";
}

std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes, size_t n) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(n));
}

// A record's identity: its full encoding with a fresh codec.
std::vector<uint8_t> bytes_of(const proto::Record& r) {
    proto::Codec codec;
    std::vector<uint8_t> out;
    codec.encode(r, out, true);
    return out;
}

proto::StreamSample sample(uint64_t t, uint64_t id, uint64_t readable, uint64_t writable, uint32_t flags = 0) {
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

// One record of every type, in a plausible order.
std::vector<proto::Record> one_of_each(uint64_t t) {
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
    v.emplace_back(proto::Dropped{t + 60, 0, 3});
    v.emplace_back(proto::StreamEvent{t + 65, 7, proto::StreamEventKind::Error, 0, 2});
    v.emplace_back(proto::Goodbye{t + 70, 0, 1});
    v.emplace_back(proto::ProcessExit{t + 80, 0, -1, 9});
    v.emplace_back(proto::AgentNote{t + 90, "target killed by SIGKILL"});
    return v;
}

// A trace with many records, several keyframes and streams that come and go.
std::vector<proto::Record> busy_trace(int seconds) {
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

std::string write_trace(const std::string& name, const std::vector<proto::Record>& records,
                        TraceWriter::Options options = {}) {
    const std::string path = temp_path(name);
    auto created = TraceWriter::create(path, kStart, options);
    REQUIRE(created.status.ok());
    for (const auto& r : records) REQUIRE(created.writer->append(r).ok());
    REQUIRE(created.writer->close().ok());
    return path;
}

std::vector<proto::Record> read_all(const std::string& path, std::string* error = nullptr) {
    auto opened = TraceReader::open(path);
    REQUIRE(opened.status.ok());
    std::vector<proto::Record> out;
    proto::Record r;
    ReadResult res;
    while ((res = opened.reader->next(r)) == ReadResult::Record) out.push_back(r);
    if (error) *error = res == ReadResult::Error ? opened.reader->error() : "";
    return out;
}

}  // namespace

TEST_CASE("codec round trip for every record type", "[model][trace]") {
    const auto records = one_of_each(kStart);
    proto::Codec enc, dec;
    for (const auto& r : records) {
        std::vector<uint8_t> buf;
        enc.encode(r, buf);
        proto::Record back;
        std::string error;
        REQUIRE(dec.decode(buf.data(), buf.size(), back, error));
        CHECK(back.index() == r.index());
        CHECK(bytes_of(back) == bytes_of(r));
    }
}

TEST_CASE("writer → reader round trip keeps every record once, in order", "[model][trace]") {
    TraceWriter::Options options;
    options.keyframe_interval_us = 5'000'000;  // several keyframes in a 30 s trace
    const auto records = busy_trace(30);
    const std::string path = write_trace("roundtrip", records, options);

    auto opened = TraceReader::open(path);
    REQUIRE(opened.status.ok());
    CHECK(opened.reader->has_footer());
    CHECK(opened.reader->start_us() == kStart);
    CHECK(opened.reader->keyframes().size() >= 5);

    std::string error;
    const auto back = read_all(path, &error);
    CHECK(error.empty());
    REQUIRE(back.size() == records.size());
    for (size_t i = 0; i < records.size(); ++i) REQUIRE(bytes_of(back[i]) == bytes_of(records[i]));

    // Without compression the same records come back too.
    options.zstd_level = 0;
    const std::string raw_path = write_trace("roundtrip-raw", records, options);
    CHECK(read_all(raw_path).size() == records.size());
    std::remove(path.c_str());
    std::remove(raw_path.c_str());
}

TEST_CASE("seek starts at a keyframe and rebuilds the state", "[model][trace]") {
    TraceWriter::Options options;
    options.keyframe_interval_us = 5'000'000;
    const auto records = busy_trace(30);
    const std::string path = write_trace("seek", records, options);
    const LoadedTrace full = load_timeline(path);
    REQUIRE(full.error.empty());

    auto opened = TraceReader::open(path);
    REQUIRE(opened.status.ok());
    TraceReader& reader = *opened.reader;
    REQUIRE(reader.seek(17.0).ok());
    Timeline partial;
    partial.set_start_us(reader.start_us());
    proto::Record r;
    RecordOrigin origin;
    size_t keyframe_records = 0;
    double first_regular_s = -1;
    while (reader.next(r, &origin) == ReadResult::Record) {
        if (origin.keyframe) ++keyframe_records;
        else if (first_regular_s < 0) first_regular_s = partial.to_seconds(proto::record_time_us(r));
        partial.apply(r);
    }
    CHECK(keyframe_records > 0);
    CHECK(first_regular_s >= 15.0);  // keyframes every 5 s: the one at 15 s
    CHECK(first_regular_s <= 17.0);

    // The state at the end agrees with a full read: processes, strings, the live streams.
    REQUIRE(partial.processes().size() == 1);
    CHECK(partial.processes()[0].pid == 4242);
    CHECK(partial.processes()[0].samples.back().rss_bytes == full.timeline.processes()[0].samples.back().rss_bytes);
    const StreamInfo* w = partial.stream(7);
    REQUIRE(w != nullptr);
    CHECK(w->type == "Writable");
    CHECK(w->site == "app.js:10");
    CHECK(w->last()->writable_length == full.timeline.stream(7)->last()->writable_length);
    CHECK(w->error_message == "app.js:10");
    CHECK(partial.stream(8) == nullptr);  // never created, never piped after the keyframe
    const StreamInfo* last_live = partial.stream(115);
    REQUIRE(last_live != nullptr);
    CHECK(last_live->readable_hwm == 16384);
    CHECK(partial.stream(101) == nullptr);  // gone before the keyframe: not repeated

    // Seeking before the first keyframe reads from the start.
    REQUIRE(reader.seek(0).ok());
    size_t n = 0;
    while (reader.next(r, &origin) == ReadResult::Record) ++n;
    CHECK(n == records.size());
    std::remove(path.c_str());
}

TEST_CASE("a trace without footer is read by scanning, with a warning", "[model][trace]") {
    TraceWriter::Options options;
    options.keyframe_interval_us = 5'000'000;
    const auto records = busy_trace(12);
    const std::string path = write_trace("nofooter", records, options);
    auto bytes = read_bytes(path);
    uint64_t index_offset = 0;
    for (int i = 0; i < 8; ++i) index_offset |= uint64_t(bytes[bytes.size() - 16 + size_t(i)]) << (8 * i);
    write_bytes(path, bytes, size_t(index_offset));  // what a killed agent leaves behind

    const LoadedTrace t = load_timeline(path);
    CHECK(t.error.empty());
    CHECK(t.truncated);
    CHECK_THAT(t.warning, Catch::Contains("no end marker") && Catch::Contains("t=12.0 s"));
    CHECK(t.timeline.processes()[0].samples.size() == 121);

    auto opened = TraceReader::open(path);
    REQUIRE(opened.status.ok());
    CHECK_FALSE(opened.reader->has_footer());
    CHECK(opened.reader->keyframes().size() == 2);  // found by scanning
    std::remove(path.c_str());
}

TEST_CASE("truncation at every byte offset yields a prefix and an error, never a crash", "[model][trace]") {
    TraceWriter::Options options;
    options.flush_interval_us = 200'000;  // many small chunks
    options.keyframe_interval_us = 1'000'000;
    const auto records = busy_trace(3);
    const std::string path = write_trace("cut-src", records, options);
    const auto bytes = read_bytes(path);
    const auto full = read_all(path);
    REQUIRE(full.size() == records.size());
    const std::string cut = temp_path("cut");
    size_t errors = 0, clean = 0;
    for (size_t n = 0; n < bytes.size(); ++n) {
        write_bytes(cut, bytes, n);
        auto opened = TraceReader::open(cut);
        if (n < format::kFileHeaderBytes) {
            REQUIRE_FALSE(opened.status.ok());
            continue;
        }
        REQUIRE(opened.status.ok());
        std::vector<proto::Record> got;
        proto::Record r;
        ReadResult res;
        while ((res = opened.reader->next(r)) == ReadResult::Record) got.push_back(r);
        REQUIRE(got.size() <= full.size());
        for (size_t i = 0; i < got.size(); ++i) REQUIRE(bytes_of(got[i]) == bytes_of(full[i]));
        if (res == ReadResult::Error) {
            ++errors;
            REQUIRE_THAT(opened.reader->error(), Catch::Contains("truncated at byte " + std::to_string(n)) &&
                                                     Catch::Contains("readable"));
        } else {
            ++clean;  // cut exactly between chunks: readable, flagged as cut short
            REQUIRE(opened.reader->truncated());
        }
    }
    CHECK(errors > 0);
    CHECK(clean > 1);
    std::remove(path.c_str());
    std::remove(cut.c_str());
}

TEST_CASE("corrupt and foreign files give clear errors", "[model][trace]") {
    const auto records = busy_trace(3);
    const std::string path = write_trace("corrupt-src", records);
    const auto bytes = read_bytes(path);
    const std::string bad = temp_path("corrupt");

    SECTION("not a trace") {
        std::vector<uint8_t> text = {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '\n'};
        write_bytes(bad, text, text.size());
        auto opened = TraceReader::open(bad);
        REQUIRE_FALSE(opened.status.ok());
        CHECK_THAT(opened.status.message(), Catch::Contains("not a tidemark trace (bad magic)"));
        const LoadedTrace t = load_timeline(bad);
        CHECK_THAT(t.error, Catch::Contains("bad magic"));
        write_bytes(bad, text, 0);
        CHECK_THAT(TraceReader::open(bad).status.message(), Catch::Contains("bad magic"));
    }
    SECTION("missing file") {
        CHECK_THAT(TraceReader::open(temp_path("does-not-exist")).status.message(),
                   Catch::Contains("cannot open trace file") && Catch::Contains("No such file"));
    }
    SECTION("a flipped bit in a chunk payload is a CRC mismatch") {
        auto copy = bytes;
        copy[format::kFileHeaderBytes + format::kChunkHeaderBytes + 3] ^= 0x10;
        write_bytes(bad, copy, copy.size());
        const LoadedTrace t = load_timeline(bad);
        CHECK_THAT(t.error, Catch::Contains("chunk 0 at byte 24 is corrupt (CRC mismatch)") &&
                                Catch::Contains("no records before it are readable"));
    }
    SECTION("random bit flips and random bytes never crash") {
        std::mt19937 rng(12345);
        for (int round = 0; round < 300; ++round) {
            auto copy = bytes;
            const int flips = 1 + int(rng() % 4);
            for (int i = 0; i < flips; ++i) copy[rng() % copy.size()] ^= uint8_t(1u << (rng() % 8));
            const size_t n = (round % 3 == 0) ? rng() % copy.size() : copy.size();
            write_bytes(bad, copy, n);
            const LoadedTrace t = load_timeline(bad);  // must return, with or without an error
            if (t.error.empty()) CHECK(t.timeline.processes().size() <= 1);
        }
        for (int round = 0; round < 200; ++round) {
            std::vector<uint8_t> noise(rng() % 4096);
            for (auto& b : noise) b = uint8_t(rng());
            if (round % 2 == 0) {  // a valid header followed by noise
                noise.insert(noise.begin(), bytes.begin(), bytes.begin() + format::kFileHeaderBytes);
            }
            write_bytes(bad, noise, noise.size());
            const LoadedTrace t = load_timeline(bad);
            if (round % 2 == 1) CHECK_FALSE(t.error.empty());
        }
    }
    std::remove(path.c_str());
    std::remove(bad.c_str());
}

TEST_CASE("reading resumes at the next keyframe after a damaged chunk", "[model][trace]") {
    TraceWriter::Options options;
    options.keyframe_interval_us = 5'000'000;
    const auto records = busy_trace(30);
    const std::string path = write_trace("resync-src", records, options);
    const LoadedTrace full = load_timeline(path);
    REQUIRE(full.error.empty());
    auto bytes = read_bytes(path);
    auto opened = TraceReader::open(path);
    REQUIRE(opened.status.ok());
    const auto keyframes = opened.reader->keyframes();
    REQUIRE(keyframes.size() >= 4);
    // Damage a Records chunk between the 2nd and 3rd keyframes.
    const uint64_t chunk_after_kf2 = keyframes[1].offset + format::kChunkHeaderBytes +
                                     format::get_u32(bytes.data() + keyframes[1].offset + 8);
    bytes[chunk_after_kf2 + format::kChunkHeaderBytes + 2] ^= 0xFF;
    const std::string bad = temp_path("resync");
    for (const bool with_footer : {true, false}) {
        const uint64_t index_offset = format::get_u64(bytes.data() + bytes.size() - 16);
        write_bytes(bad, bytes, with_footer ? bytes.size() : size_t(index_offset));
        const LoadedTrace t = load_timeline(bad);
        CHECK_THAT(t.error, Catch::Contains("at byte " + std::to_string(chunk_after_kf2) + " is corrupt (CRC mismatch)") &&
                                Catch::Contains("data up to t=9.9 s is readable") &&
                                Catch::Contains("reading resumed at the next intact keyframe (byte " +
                                                std::to_string(keyframes[2].offset) + ")"));
        // What came after the damage is there again; only the gap is missing.
        const auto& samples = t.timeline.processes()[0].samples;
        CHECK(samples.back().rss_bytes == full.timeline.processes()[0].samples.back().rss_bytes);
        CHECK(samples.size() < full.timeline.processes()[0].samples.size());
        CHECK(t.timeline.stream(7)->last()->writable_length == full.timeline.stream(7)->last()->writable_length);
    }
    std::remove(path.c_str());
    std::remove(bad.c_str());
}

TEST_CASE("hostile records behind valid CRCs give errors, never crashes", "[model][trace]") {
    // A crafted file can carry correct checksums around garbage: the record decoder is the last
    // line of defence. Chunks of random framed records, some plausible (right type bytes).
    const std::string path = temp_path("hostile");
    std::mt19937 rng(99);
    size_t errors = 0;
    for (int round = 0; round < 400; ++round) {
        std::vector<uint8_t> file(format::kFileHeaderBytes);
        std::memcpy(file.data(), format::kFileMagic, 8);
        format::put_u16(file.data() + 8, format::kCurrentVersion);
        format::put_u16(file.data() + 10, format::kCurrentVersion);
        format::put_u32(file.data() + 12, format::kFileHeaderBytes);
        format::put_u64(file.data() + 16, kStart);
        for (int c = 0; c < 3; ++c) {
            std::vector<uint8_t> payload;
            const bool keyframe = rng() % 4 == 0;
            if (keyframe) payload.resize(8, 0);
            for (int r = 0; r < 20; ++r) {
                std::vector<uint8_t> rec;
                const uint8_t types[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 32, 33, uint8_t(rng())};
                rec.push_back(types[rng() % 13]);
                const size_t n = rng() % 24;
                for (size_t i = 0; i < n; ++i) rec.push_back(uint8_t(rng() % 3 == 0 ? 0x80 | rng() : rng() % 8));
                proto::Writer(payload).uv(rng() % 16 == 0 ? rng() : rec.size());
                payload.insert(payload.end(), rec.begin(), rec.end());
            }
            std::vector<uint8_t> h(format::kChunkHeaderBytes);
            format::put_u32(h.data(), format::kChunkMagic);
            h[4] = keyframe ? 2 : 1;
            format::put_u32(h.data() + 8, uint32_t(payload.size()));
            format::put_u32(h.data() + 12, uint32_t(payload.size()));
            format::put_u32(h.data() + 16, format::crc32(payload.data(), payload.size()));
            file.insert(file.end(), h.begin(), h.end());
            file.insert(file.end(), payload.begin(), payload.end());
        }
        write_bytes(path, file, file.size());
        const LoadedTrace t = load_timeline(path);
        if (!t.error.empty()) {
            ++errors;
            CHECK_THAT(t.error, Catch::Contains("is corrupt") || Catch::Contains("truncated"));
        }
        auto opened = TraceReader::open(path);
        REQUIRE(opened.status.ok());
        CHECK(opened.reader->seek(double(rng() % 5)).ok());
        proto::Record r;
        while (opened.reader->next(r) == ReadResult::Record) {
        }
    }
    CHECK(errors > 300);  // garbage is almost always caught
    std::remove(path.c_str());
}

TEST_CASE("the reader accepts a window of file versions", "[model][trace]") {
    const std::string path = write_trace("version-src", one_of_each(kStart));
    auto bytes = read_bytes(path);
    const std::string other = temp_path("version");
    auto with_version = [&](uint16_t version, uint16_t min_reader) {
        auto copy = bytes;
        format::put_u16(copy.data() + 8, version);
        format::put_u16(copy.data() + 10, min_reader);
        write_bytes(other, copy, copy.size());
        return TraceReader::open(other).status;
    };
    CHECK(with_version(format::kCurrentVersion, format::kCurrentVersion).ok());
    const Status newer = with_version(9, 9);
    CHECK_THAT(newer.message(), Catch::Contains("trace format version 9 is newer than this tidemark (reads 1–1)") &&
                                    Catch::Contains("upgrade tidemark"));
    // A newer writer that promises older readers can skip what they do not know.
    CHECK(with_version(2, 1).ok());
    const Status older = with_version(0, 0);
    CHECK_THAT(older.message(), Catch::Contains("version 0 is older") && Catch::Contains("older tidemark"));
    std::remove(path.c_str());
    std::remove(other.c_str());
}

TEST_CASE("writer errors come back as values", "[model][trace]") {
    auto created = TraceWriter::create("/nonexistent-dir/x.tidemark", kStart);
    CHECK(created.writer == nullptr);
    CHECK_THAT(created.status.message(), Catch::Contains("cannot create trace file") && Catch::Contains("--out"));
}

namespace {

// Writes kSeconds of 1,000 streams sampled at 10 Hz; a sample changes with probability
// 1/change_one_in (0 = never: every sample repeats the previous state, mask = 0). Returns the
// file size and checks every record reads back.
uint64_t measure_idle_trace(uint32_t change_one_in, uint64_t& samples) {
    const std::string path = temp_path("size");
    auto created = TraceWriter::create(path, kStart);
    REQUIRE(created.status.ok());
    TraceWriter& w = *created.writer;
    REQUIRE(w.append(proto::StringDef{kStart, 1, "Socket"}).ok());
    constexpr int kStreams = 1000, kSeconds = 60;
    for (uint64_t id = 1; id <= kStreams; ++id) {
        proto::StreamCreated c; c.t_us = kStart; c.id = id; c.kind = proto::kKindReadable | proto::kKindWritable;
        c.type_str = 1; c.readable_hwm = 16384; c.writable_hwm = 16384;
        REQUIRE(w.append(c).ok());
    }
    std::mt19937 rng(7);
    std::vector<uint64_t> bytes_in(kStreams + 1, 0);
    samples = 0;
    for (int tick = 0; tick < kSeconds * 10; ++tick) {
        const uint64_t t = kStart + uint64_t(tick) * 100'000;
        REQUIRE(w.append(proto::ProcessSample{t, 0, 80'000'000 + rng() % 100'000, 20'000'000 + rng() % 100'000,
                                              30'000'000, 1'000'000, 500'000, 120, 800, 0}).ok());
        for (uint64_t id = 1; id <= kStreams; ++id) {
            if (change_one_in && rng() % change_one_in == 0) bytes_in[id] += 1 + rng() % 4096;
            auto s = sample(t + id, id, 0, 0, uint32_t(proto::Flowing::Flowing));
            s.bytes_in = bytes_in[id];
            s.write_calls = bytes_in[id] / 512;
            REQUIRE(w.append(s).ok());
            ++samples;
        }
    }
    REQUIRE(w.close().ok());
    CHECK(read_all(path).size() == samples + kStreams + 1 + kSeconds * 10);
    std::remove(path.c_str());
    return w.bytes_written();
}

}  // namespace

TEST_CASE("size figure: 1,000 mostly idle streams sampled at 10 Hz", "[model][trace][size]") {
    // Prints the figures docs/FORMAT.md quotes; asserts only that the data reads back.
    for (uint32_t change_one_in : {0u, 50u, 1u}) {
        uint64_t samples = 0;
        const double bytes = double(measure_idle_trace(change_one_in, samples));
        std::printf("size figure: 1000 streams x 10 Hz x 60 s, %s: %llu samples, %.0f bytes (%.2f bytes/sample)"
                    " -> %.1f MiB/hour\n",
                    change_one_in == 0 ? "no sample changes" : change_one_in == 1 ? "every sample changes" : "2% of samples change",
                    static_cast<unsigned long long>(samples), bytes, bytes / double(samples),
                    bytes * 60.0 / (1024.0 * 1024.0));
    }
}
