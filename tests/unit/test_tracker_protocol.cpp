// Wire protocol tests (tracker/include/tidemark/protocol.h) for what wire version 2 added:
// StreamAggregate round trips field by field; Hello's optional trailing thread_id is sent only
// for a worker thread, and a Hello without it (wire version 1's layout) decodes with thread_id 0;
// malformed aggregates are refused with a reason.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tidemark/protocol.h"

using namespace tidemark;

namespace {

constexpr uint64_t kT = 1'700'000'000'000'000ull;

proto::StreamAggregate full_aggregate() {
    proto::StreamAggregate a;
    a.t_us = kT + 1234;
    a.proc = 3;
    a.type_str = 17;
    a.site_str = 18;
    a.kind = proto::kKindReadable | proto::kKindWeb | proto::kKindSiteInferred;
    a.created = 100'000;
    a.promoted = 12;
    a.retired = 99'980;
    a.site_inferred = 4'000;
    a.bytes_in = 1ull << 40;
    a.bytes_pushed = 123'456'789;
    a.write_calls = 7;
    a.push_calls = 300'000;
    a.peak_readable_length = 65'536;
    a.peak_writable_length = 1;
    a.readable_hwm = 16'384;
    a.writable_hwm = 0;
    for (int i = 0; i < proto::kLifetimeBuckets; ++i) a.lifetime_hist[i] = 1000u * uint64_t(i + 1) + uint64_t(i);
    return a;
}

std::vector<uint8_t> encode(proto::Codec& codec, const proto::Record& r) {
    std::vector<uint8_t> out;
    codec.encode(r, out);
    return out;
}

bool decode(proto::Codec& codec, const std::vector<uint8_t>& bytes, proto::Record& out, std::string& error) {
    return codec.decode(bytes.data(), bytes.size(), out, error);
}

void check_same(const proto::StreamAggregate& a, const proto::StreamAggregate& b) {
    CHECK(a.t_us == b.t_us);
    CHECK(a.proc == b.proc);
    CHECK(a.type_str == b.type_str);
    CHECK(a.site_str == b.site_str);
    CHECK(a.kind == b.kind);
    CHECK(a.created == b.created);
    CHECK(a.promoted == b.promoted);
    CHECK(a.retired == b.retired);
    CHECK(a.site_inferred == b.site_inferred);
    CHECK(a.bytes_in == b.bytes_in);
    CHECK(a.bytes_pushed == b.bytes_pushed);
    CHECK(a.write_calls == b.write_calls);
    CHECK(a.push_calls == b.push_calls);
    CHECK(a.peak_readable_length == b.peak_readable_length);
    CHECK(a.peak_writable_length == b.peak_writable_length);
    CHECK(a.readable_hwm == b.readable_hwm);
    CHECK(a.writable_hwm == b.writable_hwm);
    for (int i = 0; i < proto::kLifetimeBuckets; ++i) CHECK(a.lifetime_hist[i] == b.lifetime_hist[i]);
}

// Encodes a Hello by hand in wire version 1's layout: no trailing thread_id.
std::vector<uint8_t> hello_v1_bytes() {
    std::vector<uint8_t> out;
    proto::Writer w(out);
    w.u8(static_cast<uint8_t>(proto::RecordType::Hello));
    w.sv(static_cast<int64_t>(kT));
    w.uv(1);      // wire_version
    w.uv(4242);   // pid
    w.uv(1);      // ppid
    w.u8(static_cast<uint8_t>(proto::Runtime::Node));
    w.uv(100);    // interval_ms
    w.str("v20.11.0");
    w.str("node app.js");
    w.uv(0);      // proc
    return out;
}

}  // namespace

TEST_CASE("StreamAggregate round trip keeps every field", "[model][protocol]") {
    proto::Codec enc, dec;
    const proto::StreamAggregate a = full_aggregate();
    proto::StreamAggregate later = a;  // a second record: its time is a delta on the first
    later.t_us += 100'000;
    later.created += 5;
    later.lifetime_hist[0] += 5;
    for (const auto& x : {a, later}) {
        const auto bytes = encode(enc, x);
        CHECK(bytes[0] == static_cast<uint8_t>(proto::RecordType::StreamAggregate));
        proto::Record back;
        std::string error;
        REQUIRE(decode(dec, bytes, back, error));
        REQUIRE(back.index() == 12);
        check_same(std::get<proto::StreamAggregate>(back), x);
    }
    // A fresh codec with a zero record also round-trips (every field encodes, none is skipped).
    proto::Codec e2, d2;
    proto::StreamAggregate zero;
    proto::Record back;
    std::string error;
    REQUIRE(decode(d2, encode(e2, zero), back, error));
    check_same(std::get<proto::StreamAggregate>(back), zero);
}

TEST_CASE("StreamAggregate decode refuses damage and tolerates more lifetime buckets", "[model][protocol]") {
    proto::Codec enc;
    const auto bytes = encode(enc, full_aggregate());
    // Every cut is refused with a reason, never read as something else.
    for (size_t n = 1; n < bytes.size(); ++n) {
        proto::Codec dec;
        proto::Record back;
        std::string error;
        CHECK_FALSE(dec.decode(bytes.data(), n, back, error));
        CHECK_FALSE(error.empty());
    }
    // Trailing bytes are refused.
    {
        auto longer = bytes;
        longer.push_back(0);
        proto::Codec dec;
        proto::Record back;
        std::string error;
        CHECK_FALSE(decode(dec, longer, back, error));
        CHECK_THAT(error, Catch::Contains("trailing bytes"));
    }
    // A hand-built record with 8 buckets (a future tracker): the first 6 are kept.
    auto with_buckets = [](uint64_t n) {
        std::vector<uint8_t> out;
        proto::Writer w(out);
        w.u8(static_cast<uint8_t>(proto::RecordType::StreamAggregate));
        w.sv(static_cast<int64_t>(kT));
        for (int i = 0; i < 16; ++i) w.uv(uint64_t(i + 1));  // proc … writable_hwm
        w.uv(n);
        for (uint64_t i = 0; i < n; ++i) w.uv(100 + i);
        return out;
    };
    {
        proto::Codec dec;
        proto::Record back;
        std::string error;
        REQUIRE(decode(dec, with_buckets(8), back, error));
        const auto& a = std::get<proto::StreamAggregate>(back);
        CHECK(a.proc == 1);
        CHECK(a.writable_hwm == 16);
        CHECK(a.lifetime_hist[0] == 100);
        CHECK(a.lifetime_hist[5] == 105);
    }
    {
        proto::Codec dec;
        proto::Record back;
        std::string error;
        CHECK_FALSE(decode(dec, with_buckets(65), back, error));
        CHECK_THAT(error, Catch::Contains("too many lifetime buckets"));
    }
}

TEST_CASE("Hello carries thread_id only for a worker thread", "[model][protocol]") {
    proto::Hello h;
    h.t_us = kT;
    h.pid = 4242;
    h.ppid = 1;
    h.runtime = proto::Runtime::Node;
    h.interval_ms = 100;
    h.runtime_version = "v20.11.0";
    h.cmdline = "node app.js";

    proto::Codec e1;
    const auto main_bytes = encode(e1, h);
    h.thread_id = 3;
    proto::Codec e2;
    const auto worker_bytes = encode(e2, h);
    CHECK(worker_bytes.size() == main_bytes.size() + 1);  // the trailing uv thread_id

    proto::Record back;
    std::string error;
    proto::Codec d1, d2;
    REQUIRE(decode(d1, main_bytes, back, error));
    CHECK(std::get<proto::Hello>(back).thread_id == 0);
    REQUIRE(decode(d2, worker_bytes, back, error));
    const auto& worker = std::get<proto::Hello>(back);
    CHECK(worker.thread_id == 3);
    CHECK(worker.pid == 4242);
    CHECK(worker.cmdline == "node app.js");
    CHECK(worker.wire_version == proto::kWireVersion);
}

TEST_CASE("a Hello without the trailing field decodes with thread_id 0", "[model][protocol]") {
    const auto bytes = hello_v1_bytes();
    proto::Codec dec;
    proto::Record back;
    std::string error;
    REQUIRE(decode(dec, bytes, back, error));
    const auto& h = std::get<proto::Hello>(back);
    CHECK(h.thread_id == 0);
    CHECK(h.wire_version == 1);
    CHECK(h.pid == 4242);
    CHECK(h.runtime_version == "v20.11.0");
    CHECK(h.cmdline == "node app.js");
    // The version-1 layout is exactly what a main thread's Hello encodes to today.
    proto::Hello same = h;
    proto::Codec enc;
    CHECK(encode(enc, same) == bytes);
}

TEST_CASE("GcEvent round trip keeps every field, and a bad kind or a truncated record is refused", "[model][protocol]") {
    proto::Codec enc, dec;
    proto::GcEvent major{1'700'000'000'000'000, 3, proto::GcKind::Major, 1, 12'345, 40u << 20, 31u << 20, 9u << 20, 7u << 20, true};
    proto::GcEvent minor{1'700'000'000'100'000, 3, proto::GcKind::Minor, 17, 2'000, 33u << 20, 30u << 20, 50u << 20, 7u << 20, false};
    for (const auto& x : {major, minor}) {
        const auto bytes = encode(enc, x);
        CHECK(bytes[0] == static_cast<uint8_t>(proto::RecordType::GcEvent));
        proto::Record back;
        std::string error;
        REQUIRE(decode(dec, bytes, back, error));
        const auto& y = std::get<proto::GcEvent>(back);
        CHECK(y.t_us == x.t_us);
        CHECK(y.proc == x.proc);
        CHECK(y.kind == x.kind);
        CHECK(y.count == x.count);
        CHECK(y.pause_us == x.pause_us);
        CHECK(y.heap_before == x.heap_before);
        CHECK(y.heap_after == x.heap_after);
        CHECK(y.freed_bytes == x.freed_bytes);
        CHECK(y.external_after == x.external_after);
        CHECK(y.requested == x.requested);
    }
    proto::Codec e2, d2;
    auto bytes = encode(e2, major);
    bytes[bytes.size() - 1 - 5] = 0;  // not the kind byte: a truncation instead
    bytes.resize(bytes.size() - 1);
    proto::Record back;
    std::string error;
    CHECK_FALSE(decode(d2, bytes, back, error));
    proto::Codec e3, d3;
    proto::GcEvent bad = major;
    bad.kind = static_cast<proto::GcKind>(7);
    CHECK_FALSE(decode(d3, encode(e3, bad), back, error));
    CHECK(error.find("gc kind") != std::string::npos);
}

TEST_CASE("wire version 4 names the stream kind bits, GcEvent, DrainWait and the native records", "[model][protocol]") {
    CHECK(proto::kWireVersion == 4);
    CHECK(static_cast<int>(proto::RecordType::NativeModules) == 64);
    CHECK(static_cast<int>(proto::RecordType::NativeStatus) == 67);
    CHECK(static_cast<int>(proto::RecordType::GcEvent) == 12);
    CHECK(static_cast<int>(proto::StreamEventKind::DrainWait) == 9);
    CHECK(proto::kKindHandle == (1u << 9));
    CHECK(proto::kKindWeb == (1u << 6));
    CHECK(proto::kKindUserland == (1u << 7));
    CHECK(proto::kKindSiteInferred == (1u << 8));
    CHECK(static_cast<int>(proto::RecordType::StreamAggregate) == 11);
    CHECK(proto::kLifetimeBuckets == 6);
}
