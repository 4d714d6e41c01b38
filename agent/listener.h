// The agent's end of the tracker connection: a private AF_UNIX SOCK_STREAM socket in a fresh 0700
// temporary directory (nothing listens beyond this user), and the wire framing
// (| u32 LE length | one encoded record |) read non-blockingly from each accepted connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tidemark::agent {

class Listener {
public:
    Listener() = default;
    ~Listener();  // closes the socket and removes it and its directory
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    bool open(std::string& error);
    int fd() const { return fd_; }
    const std::string& path() const { return socket_path_; }
    // A connected fd (non-blocking, close-on-exec), or -1 when none is pending. When the agent is
    // out of file descriptors a pending connection is accepted and closed at once (so poll() does
    // not spin on it) and counted in shed_connections().
    int accept_one();
    size_t shed_connections() const { return shed_; }
    void close();

private:
    int fd_ = -1;
    int spare_fd_ = -1;  // held open so a connection can still be accepted (and shed) at EMFILE
    size_t shed_ = 0;
    std::string dir_;
    std::string socket_path_;
};

// Splits one connection's byte stream into records. A frame longer than max_record_bytes (or
// empty) marks the connection as malformed: the caller drops it rather than buffer without bound.
class FrameReader {
public:
    enum class Status { Open, Closed, Malformed };

    explicit FrameReader(size_t max_record_bytes) : max_record_bytes_(max_record_bytes) {}

    // Reads up to budget_bytes from fd (non-blocking) and calls on_record for each complete
    // record; on_record returns false to stop (the connection is then treated as malformed).
    Status pump(int fd, size_t budget_bytes,
                const std::function<bool(const uint8_t*, size_t)>& on_record, std::string& error);

    // Bytes received but not yet forming a complete record (a truncated tail at EOF).
    size_t pending_bytes() const { return buf_.size() - start_; }
    uint64_t total_bytes() const { return total_bytes_; }

private:
    bool split(const std::function<bool(const uint8_t*, size_t)>& on_record, std::string& error);

    size_t max_record_bytes_;
    std::vector<uint8_t> buf_;
    size_t start_ = 0;
    uint64_t total_bytes_ = 0;
};

}  // namespace tidemark::agent
