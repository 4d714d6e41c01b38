// The viewer's end of `tidemark run --live ADDR` (agent/live_relay.h, docs/CLI.md "Live viewing").
// The relay sends the trace file's bytes from offset 0 as they are written, and closes the
// connection once the trace's index and footer are out. LiveClient receives them on a background
// thread into a private temporary file (mode 0600, removed when the client is destroyed); the
// viewer reads that file with model::TraceReader and Options::follow = true, exactly as it would
// follow a trace being written on disk (docs/FORMAT.md "Following").
//
// std + POSIX only; nothing throws out of it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace tidemark::viewer {

class LiveClient {
public:
    enum class State {
        Connecting,  // not connected yet (the agent may still be starting: retried for a few seconds)
        Receiving,   // connected; the file grows as the trace does
        Ended,       // the agent closed the connection after the trace's footer: the file is complete
        Dropped,     // the connection failed or ended without a footer (status_text() says why)
    };

    // How long connect() keeps retrying while nothing listens at ADDR yet.
    static constexpr int kConnectRetryMs = 5000;

    // ADDR as for `tidemark run --live`: unix:PATH, 127.0.0.1:PORT (any 127.x.y.z),
    // localhost:PORT or [::1]:PORT — loopback only. Returns null with `error` set when ADDR is not
    // one of those or the temporary file cannot be created; otherwise the client is Connecting
    // and its thread runs (a failure to connect then shows as Dropped).
    static std::unique_ptr<LiveClient> connect(const std::string& addr, std::string& error);

    ~LiveClient();  // stops the thread promptly, closes the socket, removes the file
    LiveClient(const LiveClient&) = delete;
    LiveClient& operator=(const LiveClient&) = delete;

    // The temporary file receiving the trace; open it with TraceReader, Options::follow = true.
    const std::string& file_path() const { return path_; }
    const std::string& address() const { return addr_text_; }

    State state() const { return state_.load(std::memory_order_acquire); }
    uint64_t bytes_received() const { return bytes_.load(std::memory_order_relaxed); }
    // One line for a status bar: "live: receiving from unix:/tmp/x (1.2 MiB)", "session ended:
    // 1.2 MiB received from unix:/tmp/x", "connection lost: <why>".
    std::string status_text() const;

private:
    struct Target;  // the parsed address (live_client.cpp)

    LiveClient() = default;
    void run();
    int connect_socket(std::string& why);  // the connected socket, or -1 (why set; "" = stopped)
    bool wait_stop(int timeout_ms) const;   // true when the destructor asked the thread to stop
    void fail(std::string why);

    std::string addr_text_;
    std::unique_ptr<Target> target_;
    std::string path_;
    int file_fd_ = -1;
    int wake_read_ = -1;
    int wake_write_ = -1;
    std::atomic<State> state_{State::Connecting};
    std::atomic<uint64_t> bytes_{0};
    mutable std::mutex mutex_;
    std::string why_;  // guarded by mutex_
    std::thread thread_;
};

}  // namespace tidemark::viewer
