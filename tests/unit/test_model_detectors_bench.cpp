// Cost of detect() on a large live timeline — a benchmark, hidden from normal runs (tag [.bench]);
// it prints figures and asserts only what the detectors found. Run:
//   tidemark_unit_tests "[.bench]"
// 300 streams sampled at 10 Hz for 3 minutes, every sample a change (the worst case for the
// collapsed-run storage), 20 of them in pipe chains, one writable ignoring backpressure.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>

#include "test_model_detectors_builder.h"

using namespace tidemark;
using namespace tidemark::test;

TEST_CASE("bench: detect() on 300 streams x 3 minutes", "[.bench]") {
    TimelineBuilder b;
    constexpr int kStreams = 300;
    constexpr int kTicks = 1800;  // 3 min at 100 ms
    for (int i = 1; i <= kStreams; ++i)
        b.created(static_cast<uint64_t>(i), proto::kKindReadable | proto::kKindWritable, "Transform",
                  "/app/bench.js:" + std::to_string(i));
    for (int i = 1; i + 1 <= 20; i += 2) b.event(0.01, static_cast<uint64_t>(i), proto::StreamEventKind::Pipe, static_cast<uint64_t>(i + 1));
    b.call_site(1.0, 7, proto::CallSiteKind::WriteAfterFalse, "/app/bench.js:99", 1);
    double worst_ms = 0, total_ms = 0;
    int calls = 0;
    size_t found = 0;
    for (int k = 1; k <= kTicks; ++k) {
        const double t = k * 0.1;
        b.process(t, 20'000'000 + static_cast<uint64_t>(k % 10) * 1'000'000, 5'000'000 + (k % 7) * 100'000);
        for (int i = 1; i <= kStreams; ++i) {
            auto& s = b.state(static_cast<uint64_t>(i));
            s.flags = static_cast<uint32_t>(proto::Flowing::Flowing);
            s.write_calls += 1;
            s.bytes_in += 16384;
            s.bytes_pushed += 16384;
            s.writable_length = i == 7 ? s.writable_length + 65536 : static_cast<uint64_t>((k + i) % 4) * 4096;
            if (i == 7) {
                s.writes_after_false += 1;
                s.flags |= proto::kFlagNeedDrain;
            }
            b.sample(t, static_cast<uint64_t>(i));
        }
        if (k % 5 == 0) {  // the agent's cadence: every 500 ms
            const auto t0 = std::chrono::steady_clock::now();
            const auto fs = model::detect(b.tl);
            const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            worst_ms = std::max(worst_ms, ms);
            total_ms += ms;
            ++calls;
            found = fs.size();
        }
    }
    std::printf("detect(): %d calls, mean %.2f ms, worst %.2f ms (last call: %zu points in 300 streams, %zu findings)\n",
                calls, total_ms / calls, worst_ms, static_cast<size_t>(kStreams) * kTicks, found);
    const auto fs = model::detect(b.tl);
    CHECK(of_kind(fs, "ignored-backpressure").size() == 1);
    CHECK(warnings_or_errors(fs) == 1);  // its buffer grows 640 KiB/s: under external-growth's 1 MiB/s
}
