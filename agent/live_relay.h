// `tidemark run --live ADDR`: relays the trace file's bytes to any number of viewers. A viewer that
// connects (at any time) receives the file from offset 0, then every byte appended as the trace
// grows; when the session has closed the trace (index + footer) it receives the rest and the agent
// closes the connection. There is no framing of its own: the stream *is* the trace file, read
// with docs/FORMAT.md's follow rules.
//
// Driven from run_session.cpp's single-threaded poll() loop: add_poll_fds() appends the relay's
// fds, on_poll() handles them. It never blocks the loop: sockets are non-blocking, each viewer
// holds only a file offset (the file is read with pread in ≤ 64 KiB pieces when its socket is
// writable), a slow viewer just lags and a viewer that goes away is dropped.
//
// Addresses are loopback only — the trace is served without authentication: `unix:PATH` (created
// 0600, an existing non-socket file is never replaced, removed at close), `127.0.0.1:PORT` (any
// 127.x.y.z), `localhost:PORT`, `[::1]:PORT`; PORT 0 picks a free port.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tidemark/live_address.h"

namespace tidemark::agent {

// ADDR and its parser are shared with the viewer's client (tidemark/live_address.h).
using tidemark::LiveAddress;
using tidemark::parse_live_address;

class LiveRelay {
public:
    static constexpr size_t kMaxViewers = 64;         // more are accepted and closed at once
    static constexpr size_t kPieceBytes = 64 * 1024;  // one pread/send
    static constexpr size_t kPiecesPerTurn = 4;       // per viewer per loop turn, for fairness

    LiveRelay() = default;
    ~LiveRelay();  // closes every socket, removes the Unix socket file
    LiveRelay(const LiveRelay&) = delete;
    LiveRelay& operator=(const LiveRelay&) = delete;

    // Binds and listens. address() is then the printable address, with the chosen port.
    bool open(const LiveAddress& addr, std::string& error);
    bool is_open() const { return listen_fd_ >= 0; }
    const std::string& address() const { return address_; }

    // The trace file being written (opened read-only); until then viewers wait.
    bool attach_file(const std::string& path, std::string& error);

    // Appends the relay's fds to a poll set (the listener, and each viewer: POLLIN to notice a
    // disconnect, POLLOUT while it lags behind the file's size) and remembers where they are.
    void add_poll_fds(std::vector<pollfd>& fds);
    // Handles the revents of the fds add_poll_fds() appended to this same vector.
    void on_poll(const std::vector<pollfd>& fds);

    // The trace is closed: accepts viewers still pending, stops listening, then for up to
    // timeout_ms delivers the rest of the file to every viewer, shuts each one's sending side once
    // it has everything and waits for it to close; closes whatever remains at the deadline.
    void finish(int timeout_ms);

    size_t viewers() const { return viewers_.size(); }
    void close();

private:
    struct Viewer {
        int fd = -1;
        uint64_t offset = 0;    // bytes of the file sent
        bool shut = false;      // everything sent and SHUT_WR done (finish only)
        bool drop = false;
    };

    void accept_pending();
    uint64_t file_size() const;
    void send_some(Viewer& v, uint64_t size);
    void read_discard(Viewer& v);
    void close_listener();
    void prune();

    int listen_fd_ = -1;
    int spare_fd_ = -1;  // released at EMFILE so a pending connection can be accepted and shed
    std::string address_;
    std::string unix_path_;  // the socket file we created (removed at close)
    dev_t unix_dev_ = 0;
    ino_t unix_ino_ = 0;
    int file_fd_ = -1;
    std::vector<Viewer> viewers_;
    size_t poll_first_ = 0;     // where add_poll_fds() put the listener
    size_t poll_viewers_ = 0;   // how many viewer fds it added after it
    bool poll_listener_ = false;
    std::vector<uint8_t> piece_;  // one shared read buffer (kPieceBytes)
};

}  // namespace tidemark::agent
