// wire_sink: a minimal stand-in for the agent, used by the tracker benchmarks and for debugging.
// Listens on an AF_UNIX socket, accepts tracker connections (one thread each) and reads the
// framed records: discards them (default) or decodes and prints them (--dump). Runs until
// killed. Build: c++ -std=c++20 -O2 -pthread
//   -I tracker/include tests/bench/wire_sink.cpp -o wire_sink
// Usage: wire_sink SOCKET_PATH [--dump]
#include <tidemark/protocol.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace proto = tidemark::proto;

static bool read_full(int fd, uint8_t* p, size_t n) {
    while (n > 0) {
        const ssize_t r = ::read(fd, p, n);
        if (r <= 0) return false;
        p += r;
        n -= static_cast<size_t>(r);
    }
    return true;
}

static void print(const proto::Record& r) {
    std::visit([](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, proto::Hello>)
            std::printf("Hello pid=%u ppid=%u thread=%u v=%s interval=%u cmd=%s\n", x.pid, x.ppid, x.thread_id, x.runtime_version.c_str(), x.interval_ms, x.cmdline.c_str());
        else if constexpr (std::is_same_v<T, proto::StringDef>) std::printf("String %u %s\n", x.id, x.text.c_str());
        else if constexpr (std::is_same_v<T, proto::ProcessSample>)
            std::printf("Process rss=%llu heap=%llu ab=%llu delay=%llu/%llu\n", (unsigned long long)x.rss_bytes, (unsigned long long)x.heap_used_bytes, (unsigned long long)x.array_buffers_bytes, (unsigned long long)x.loop_delay_mean_us, (unsigned long long)x.loop_delay_max_us);
        else if constexpr (std::is_same_v<T, proto::StreamCreated>)
            std::printf("Created id=%llu kind=%u type=%u site=%u hwm=%llu/%llu\n", (unsigned long long)x.id, x.kind, x.type_str, x.site_str, (unsigned long long)x.readable_hwm, (unsigned long long)x.writable_hwm);
        else if constexpr (std::is_same_v<T, proto::StreamSample>)
            std::printf("Sample id=%llu flags=%u rlen=%llu wlen=%llu in=%llu pushed=%llu waf=%llu paf=%llu w=%llu p=%llu\n", (unsigned long long)x.id, x.flags, (unsigned long long)x.readable_length, (unsigned long long)x.writable_length, (unsigned long long)x.bytes_in, (unsigned long long)x.bytes_pushed, (unsigned long long)x.writes_after_false, (unsigned long long)x.pushes_after_false, (unsigned long long)x.write_calls, (unsigned long long)x.push_calls);
        else if constexpr (std::is_same_v<T, proto::StreamEvent>)
            std::printf("Event id=%llu kind=%d other=%llu str=%u\n", (unsigned long long)x.id, (int)x.kind, (unsigned long long)x.other, x.str);
        else if constexpr (std::is_same_v<T, proto::Pipeline>) {
            std::printf("Pipeline id=%llu site=%u stages:", (unsigned long long)x.id, x.site_str);
            for (size_t i = 0; i < x.stages.size(); ++i) std::printf(" %llu/%u", (unsigned long long)x.stages[i], x.stage_strs[i]);
            std::printf("\n");
        } else if constexpr (std::is_same_v<T, proto::CallSite>)
            std::printf("CallSite id=%llu kind=%d site=%u count=%llu\n", (unsigned long long)x.id, (int)x.kind, x.site_str, (unsigned long long)x.count);
        else if constexpr (std::is_same_v<T, proto::Dropped>) std::printf("Dropped %llu\n", (unsigned long long)x.records);
        else if constexpr (std::is_same_v<T, proto::Goodbye>) std::printf("Goodbye code=%d\n", x.exit_code);
        else if constexpr (std::is_same_v<T, proto::StreamAggregate>)
            std::printf("Aggregate type=%u site=%u kind=%u created=%llu promoted=%llu retired=%llu inferred=%llu in=%llu pushed=%llu peak=%llu/%llu life=%llu,%llu,%llu,%llu,%llu,%llu\n", x.type_str, x.site_str, x.kind,
                        (unsigned long long)x.created, (unsigned long long)x.promoted, (unsigned long long)x.retired, (unsigned long long)x.site_inferred, (unsigned long long)x.bytes_in, (unsigned long long)x.bytes_pushed,
                        (unsigned long long)x.peak_readable_length, (unsigned long long)x.peak_writable_length, (unsigned long long)x.lifetime_hist[0], (unsigned long long)x.lifetime_hist[1], (unsigned long long)x.lifetime_hist[2],
                        (unsigned long long)x.lifetime_hist[3], (unsigned long long)x.lifetime_hist[4], (unsigned long long)x.lifetime_hist[5]);
        else std::printf("other record\n");
    }, r);
}

static void serve(int fd, bool dump) {
    proto::Codec codec;
    std::vector<uint8_t> buf;
    for (;;) {
        uint8_t len_bytes[4];
        if (!read_full(fd, len_bytes, 4)) break;
        const uint32_t len = len_bytes[0] | len_bytes[1] << 8 | len_bytes[2] << 16 | static_cast<uint32_t>(len_bytes[3]) << 24;
        if (len > proto::kMaxRecordBytes) break;
        buf.resize(len);
        if (!read_full(fd, buf.data(), len)) break;
        if (!dump) continue;
        proto::Record r;
        std::string error;
        if (!codec.decode(buf.data(), len, r, error)) { std::printf("decode error: %s\n", error.c_str()); break; }
        print(r);
        std::fflush(stdout);
    }
    ::close(fd);
}

int main(int argc, char** argv) {
    if (argc < 2) { std::fprintf(stderr, "usage: wire_sink SOCKET_PATH [--dump]\n"); return 2; }
    const bool dump = argc > 2 && std::strcmp(argv[2], "--dump") == 0;
    const int ls = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", argv[1]);
    ::unlink(argv[1]);
    if (::bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0 || ::listen(ls, 16) < 0) {
        std::perror("bind/listen");
        return 1;
    }
    for (;;) {
        const int fd = ::accept(ls, nullptr, nullptr);
        if (fd < 0) continue;
        std::thread(serve, fd, dump).detach();
    }
}
