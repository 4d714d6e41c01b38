// The native tracker's allocation-free pieces (tracker/native): the fixed-buffer encoder decodes
// with the agent's proto::Codec, the Poisson sampler's estimates are unbiased, the site table
// interns each stack once (also under concurrent interning) and the address map keeps blocks
// across growth and deletion.
#include <catch2/catch.hpp>

#include <cmath>
#include <thread>
#include <vector>

#include "address_map.h"
#include "poisson.h"
#include "site_table.h"
#include "tidemark/native_encoder.h"
#include "tidemark/protocol.h"

using namespace tidemark;
using namespace tidemark::native;

namespace {

std::vector<proto::Record> decode_all(const uint8_t* p, size_t n) {
    std::vector<proto::Record> out;
    proto::Codec codec;
    size_t at = 0;
    while (at + 4 <= n) {
        uint32_t len = 0;
        for (int i = 0; i < 4; ++i) len |= static_cast<uint32_t>(p[at + static_cast<size_t>(i)]) << (8 * i);
        REQUIRE(at + 4 + len <= n);
        proto::Record r;
        std::string error;
        REQUIRE(codec.decode(p + at + 4, len, r, error));
        out.push_back(std::move(r));
        at += 4 + len;
    }
    CHECK(at == n);
    return out;
}

}  // namespace

TEST_CASE("the fixed-buffer native encoder writes what proto::Codec decodes", "[tracker][native][encoder]") {
    std::vector<uint8_t> buf(1 << 16);
    proto::FixedFrameEncoder e(buf.data(), buf.size());
    const uint64_t t0 = 1'700'000'000'000'000;
    REQUIRE(e.hello(t0, 42, 7, proto::Runtime::Native, 100, "tidemark-native full", "./leaky --n 3"));
    proto::FixedFrameEncoder::ModuleView mods[2] = {{0x1000, 0x1000, 0x5000, "/usr/bin/leaky"},
                                                    {0x7f0000000000, 0x7f0000001000, 0x7f0000009000, "/lib/libc.so.6"}};
    REQUIRE(e.native_modules(t0 + 10, 1, mods, 2));
    const uint64_t frames[3] = {0x7f0000001234, 0x1500, 0x1100};
    REQUIRE(e.native_stack(t0 + 20, 5, frames, 3));
    proto::NativeSiteCounters sites[2] = {{5, 10, 4096, 3, 1024}, {6, 1, 1ull << 40, 0, 0}};
    REQUIRE(e.native_sites(t0 + 30, sites, 2));
    proto::NativeStatus st;
    st.mode = proto::NativeMode::Sampled;
    st.sample_interval_bytes = 524288;
    st.live_bytes = 3072;
    st.sites = 7;
    REQUIRE(e.native_status(t0 + 40, st));
    REQUIRE(e.process_sample(t0 + 50, 12345678, 3072));
    REQUIRE(e.dropped(t0 + 60, 3));
    REQUIRE(e.goodbye(t0 + 70, 0));

    const auto recs = decode_all(e.data(), e.size());
    REQUIRE(recs.size() == 8);
    const auto& h = std::get<proto::Hello>(recs[0]);
    CHECK(h.t_us == t0);
    CHECK(h.pid == 42);
    CHECK(h.runtime == proto::Runtime::Native);
    CHECK(h.cmdline == "./leaky --n 3");
    CHECK(h.wire_version == proto::kWireVersion);
    const auto& m = std::get<proto::NativeModules>(recs[1]);
    REQUIRE(m.modules.size() == 2);
    CHECK(m.modules[1].path == "/lib/libc.so.6");
    CHECK(m.modules[1].end == 0x7f0000009000);
    const auto& s = std::get<proto::NativeStack>(recs[2]);
    CHECK(s.site == 5);
    CHECK(s.frames == std::vector<uint64_t>(frames, frames + 3));
    const auto& c = std::get<proto::NativeSites>(recs[3]);
    REQUIRE(c.sites.size() == 2);
    CHECK(c.sites[0].live_bytes() == 3072);
    CHECK(c.sites[1].alloc_bytes == 1ull << 40);
    CHECK(c.t_us == t0 + 30);
    const auto& status = std::get<proto::NativeStatus>(recs[4]);
    CHECK(status.mode == proto::NativeMode::Sampled);
    CHECK(status.sites == 7);
    CHECK(std::get<proto::ProcessSample>(recs[5]).native_live_bytes == 3072);
    CHECK(std::get<proto::Dropped>(recs[6]).records == 3);
    CHECK(std::get<proto::Goodbye>(recs[7]).t_us == t0 + 70);
}

TEST_CASE("the native encoder's stream records (native streams C API) decode as the Node tracker's", "[tracker][native][encoder]") {
    std::vector<uint8_t> buf(1 << 16);
    proto::FixedFrameEncoder e(buf.data(), buf.size());
    const uint64_t t0 = 1'700'000'000'000'000;
    REQUIRE(e.hello(t0, 42, 7, proto::Runtime::Native, 100, "tidemark-native sampled", "./queue"));
    REQUIRE(e.string_def(t0 + 1, 1, "MessageQueue"));
    REQUIRE(e.string_def(t0 + 1, 2, "native:0x55d0c0de1234"));
    REQUIRE(e.stream_created(t0 + 2, 9, proto::kKindRegistered | proto::kKindWritable, 1, 2, 0, 1 << 20));
    proto::StreamSample x;
    x.id = 9;
    x.flags = proto::kFlagNeedDrain;
    x.writable_length = 5u << 20;
    x.bytes_in = 7u << 20;
    x.writes_after_false = 60;
    x.write_calls = 112;
    REQUIRE(e.stream_sample_full(t0 + 3, x));
    REQUIRE(e.call_site(t0 + 4, 9, proto::CallSiteKind::WriteAfterFalse, 2, 60));
    REQUIRE(e.stream_event(t0 + 5, 9, proto::StreamEventKind::Close));

    const auto recs = decode_all(e.data(), e.size());
    REQUIRE(recs.size() == 7);
    CHECK(std::get<proto::StringDef>(recs[2]).text == "native:0x55d0c0de1234");
    const auto& c = std::get<proto::StreamCreated>(recs[3]);
    CHECK(c.id == 9);
    CHECK(c.kind == (proto::kKindRegistered | proto::kKindWritable));
    CHECK(c.writable_hwm == 1u << 20);
    const auto& s = std::get<proto::StreamSample>(recs[4]);
    CHECK(s.writable_length == 5u << 20);
    CHECK(s.writes_after_false == 60);
    CHECK(s.write_calls == 112);
    CHECK(s.flags == proto::kFlagNeedDrain);
    const auto& site = std::get<proto::CallSite>(recs[5]);
    CHECK(site.kind == proto::CallSiteKind::WriteAfterFalse);
    CHECK(site.site_str == 2);
    CHECK(site.count == 60);
    CHECK(std::get<proto::StreamEvent>(recs[6]).kind == proto::StreamEventKind::Close);
}

TEST_CASE("a record that does not fit is not written and does not advance the time state", "[tracker][native][encoder]") {
    std::vector<uint8_t> buf(40);
    proto::FixedFrameEncoder e(buf.data(), buf.size());
    const uint64_t t0 = 1'700'000'000'000'000;
    REQUIRE(e.dropped(t0, 1));
    const size_t used = e.size();
    const uint64_t frames[8] = {1ull << 50, 2ull << 50, 3ull << 50, 4ull << 50, 5ull << 50, 6ull << 50, 7ull << 50, 8ull << 50};
    CHECK_FALSE(e.native_stack(t0 + 5'000'000, 1, frames, 8));
    CHECK(e.size() == used);
    CHECK(e.last_time_us() == t0);
    REQUIRE(e.dropped(t0 + 10, 2));  // still decodes: the failed record left no trace
    const auto recs = decode_all(e.data(), e.size());
    REQUIRE(recs.size() == 2);
    CHECK(std::get<proto::Dropped>(recs[1]).t_us == t0 + 10);
    const size_t total = e.size();
    e.consume(used);
    CHECK(e.size() == total - used);
}

TEST_CASE("byte-based Poisson sampling gives unbiased estimates of bytes and counts", "[tracker][native][sampler]") {
    // Allocate a known mix through the sampler's own logic and compare the weighted sum of the
    // sampled allocations with the truth.
    const double interval = 64 * 1024;
    Rng rng;
    rng.seed(12345);
    int64_t countdown = next_sample_distance(rng, interval);
    const uint64_t sizes[] = {16, 100, 1000, 4096, 70'000, 1'000'000};
    double true_bytes = 0, est_bytes = 0, true_count = 0, est_count = 0;
    uint64_t samples = 0;
    for (int round = 0; round < 200'000; ++round) {
        const uint64_t s = sizes[static_cast<size_t>(round) % 6];
        true_bytes += static_cast<double>(s);
        true_count += 1;
        countdown -= static_cast<int64_t>(s);
        if (countdown > 0) continue;
        countdown = next_sample_distance(rng, interval);
        const SampleWeight w = sample_weight(s, interval, rng.unit());
        est_bytes += static_cast<double>(w.bytes);
        est_count += w.count;
        ++samples;
    }
    INFO("samples " << samples << ", bytes " << true_bytes << " est " << est_bytes);
    CHECK(samples > 1000);
    CHECK(std::abs(est_bytes - true_bytes) / true_bytes < 0.03);
    CHECK(std::abs(est_count - true_count) / true_count < 0.05);
    // The weight of one allocation: p = 1 - exp(-s/T); s/p, and at least s.
    const SampleWeight big = sample_weight(10 * 1024 * 1024, interval);
    CHECK(big.count == 1);
    CHECK(big.bytes == 10u * 1024 * 1024);
    const SampleWeight small = sample_weight(64, interval);
    CHECK(small.bytes == Approx(interval + 32).epsilon(0.01));
}

TEST_CASE("the site table interns each stack once, also when threads race", "[tracker][native][sites]") {
    SiteTable t;
    REQUIRE(t.init(1024));
    const uint64_t a[3] = {1, 2, 3}, b[3] = {1, 2, 4}, c[2] = {1, 2};
    const uint32_t ia = t.intern(a, 3), ib = t.intern(b, 3), ic = t.intern(c, 2);
    CHECK(ia != ib);
    CHECK(ib != ic);
    CHECK(t.intern(a, 3) == ia);
    CHECK(t.intern(c, 2) == ic);
    CHECK(t.site(ib).frames[2] == 4);

    SiteTable shared;
    REQUIRE(shared.init(4096));
    std::vector<std::vector<uint32_t>> ids(8, std::vector<uint32_t>(500));
    std::vector<std::thread> threads;
    for (int k = 0; k < 8; ++k)
        threads.emplace_back([&, k] {
            for (uint64_t i = 0; i < 500; ++i) {
                const uint64_t f[2] = {i, i * 7 + 1};
                ids[static_cast<size_t>(k)][i] = shared.intern(f, 2);
            }
        });
    for (auto& th : threads) th.join();
    for (int k = 1; k < 8; ++k) CHECK(ids[static_cast<size_t>(k)] == ids[0]);
    uint32_t published = 0;
    for (uint32_t i = 0; i < shared.claimed(); ++i) published += shared.site(i).state.load() == 1;
    CHECK(published >= 500);

    SiteTable full;
    REQUIRE(full.init(2));
    CHECK(full.intern(a, 3) != kNoSite);
    CHECK(full.intern(b, 3) != kNoSite);
    CHECK(full.intern(c, 2) == kNoSite);
}

TEST_CASE("the address map keeps entries through growth and backward-shift deletion", "[tracker][native][addresses]") {
    static AddressMap m;  // large: not on the stack
    REQUIRE(m.init(1 << 20));
    for (uint64_t i = 1; i <= 20000; ++i) {
        AddressMap::Entry old{};
        bool had_old = true;
        REQUIRE(m.insert({i * 16, i, static_cast<uint32_t>(i % 7), 1}, &old, &had_old));
        CHECK_FALSE(had_old);
    }
    CHECK(m.size() == 20000);
    for (uint64_t i = 1; i <= 20000; i += 2) {
        AddressMap::Entry e{};
        REQUIRE(m.remove(i * 16, &e));
        CHECK(e.bytes == i);
    }
    for (uint64_t i = 2; i <= 20000; i += 2) {
        CHECK(m.maybe_contains(i * 16));
        AddressMap::Entry e{};
        REQUIRE(m.remove(i * 16, &e));
        CHECK(e.site == i % 7);
    }
    CHECK(m.size() == 0);
    AddressMap::Entry e{};
    CHECK_FALSE(m.remove(32, &e));
    CHECK_FALSE(m.maybe_contains(32));
}
