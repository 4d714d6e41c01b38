// Transport: connect, bounded batch queue, sender thread. See transport.h.
#include "transport.h"

#include <poll.h>

#include <cerrno>
#include <cstring>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

namespace tidemark::node {

Transport* Transport::connect(const std::string& socket_path, size_t capacity_bytes, std::string& error) {
    sockaddr_un addr{};
    if (socket_path.empty() || socket_path.size() >= sizeof(addr.sun_path)) {
        error = "socket path is empty or too long";
        return nullptr;
    }
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = std::string("socket: ") + std::strerror(errno);
        return nullptr;
    }
    // An AF_UNIX connect to a listener with a full backlog blocks; SO_SNDTIMEO bounds it.
    timeval tv{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
    int rc;
    do {
        rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        error = std::string("connect ") + socket_path + ": " + std::strerror(errno);
        ::close(fd);
        return nullptr;
    }
    tv = timeval{0, 0};  // the sender thread may block; the JS thread never waits on it unbounded
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    try {
        return new Transport(fd, capacity_bytes);
    } catch (...) {
        ::close(fd);
        error = "out of memory";
        return nullptr;
    }
}

Transport::Transport(int fd, size_t capacity_bytes) : fd_(fd), capacity_(capacity_bytes) {}

namespace {
Transport* g_forkable = nullptr;  // the one started transport, for the atfork handler
}

void Transport::after_fork_in_child() {
    // Only async-signal-safe work: the mutex may have been held by the sender thread at fork.
    // A transport already dead has closed its fd (or is about to): that number may be the app's now.
    if (!g_forkable || g_forkable->dead_.load(std::memory_order_relaxed)) return;
    g_forkable->dead_.store(true, std::memory_order_relaxed);
    ::close(g_forkable->fd_);
}

bool Transport::start() {
    static bool atfork_registered = false;
    if (!atfork_registered) {
        atfork_registered = true;
        ::pthread_atfork(nullptr, nullptr, &Transport::after_fork_in_child);
    }
    g_forkable = this;  // an attach after a detach starts a new transport
    try {
        std::thread([this] { run(); }).detach();
        return true;
    } catch (...) {
        mark_dead();
        return false;
    }
}

size_t Transport::free_bytes() {
    if (dead_.load(std::memory_order_relaxed)) return 0;
    std::lock_guard<std::mutex> lock(mu_);
    return capacity_ - size_;
}

size_t Transport::wait_for_space(size_t n, std::chrono::milliseconds bound) {
    if (dead_.load(std::memory_order_relaxed)) return 0;
    std::unique_lock<std::mutex> lock(mu_);
    became_empty_.wait_for(lock, bound, [&] {
        return dead_.load(std::memory_order_relaxed) || capacity_ - size_ >= n;
    });
    return dead_.load(std::memory_order_relaxed) ? 0 : capacity_ - size_;
}

bool Transport::append(std::vector<uint8_t>&& batch) {
    const size_t n = batch.size();
    if (n == 0) return true;
    if (dead_.load(std::memory_order_relaxed)) return false;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (capacity_ - size_ < n) return false;
        queue_.push_back(std::move(batch));
        size_ += n;
    }
    has_data_.notify_one();
    return true;
}

bool Transport::drain(std::chrono::milliseconds bound) {
    if (dead_.load(std::memory_order_relaxed)) return false;
    std::unique_lock<std::mutex> lock(mu_);
    return became_empty_.wait_for(lock, bound, [this] {
        return size_ == 0 || dead_.load(std::memory_order_relaxed);
    }) && size_ == 0;
}

void Transport::mark_dead() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        dead_.store(true, std::memory_order_relaxed);
        queue_.clear();
        size_ = 0;
    }
    became_empty_.notify_all();
}

void Transport::stop() {
    mark_dead();
    has_data_.notify_all();
}

void Transport::run() {
    for (;;) {
        std::vector<uint8_t> batch;
        {
            std::unique_lock<std::mutex> lock(mu_);
            // Idle, the sender looks for the agent's end of the connection every 100 ms (the agent
            // never writes to it, so readable means closed): a detach is then seen within a tick.
            while (!has_data_.wait_for(lock, std::chrono::milliseconds(100), [this] {
                return !queue_.empty() || dead_.load(std::memory_order_relaxed);
            })) {
                pollfd p{fd_, POLLIN | POLLRDHUP, 0};
                if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR))) {
                    dead_.store(true, std::memory_order_relaxed);
                    queue_.clear();
                    size_ = 0;
                    became_empty_.notify_all();
                    break;
                }
            }
            if (dead_.load(std::memory_order_relaxed)) break;  // stop() or the agent left: close and end
            batch = std::move(queue_.front());
            queue_.pop_front();
        }
        size_t off = 0;
        while (off < batch.size()) {
            const ssize_t sent = ::send(fd_, batch.data() + off, batch.size() - off, MSG_NOSIGNAL);
            if (sent < 0) {
                if (errno == EINTR || errno == EAGAIN) continue;
                mark_dead();  // EPIPE, ECONNRESET…: the agent is gone; the target runs on
                ::close(fd_);
                return;
            }
            off += static_cast<size_t>(sent);
        }
        {
            std::lock_guard<std::mutex> lock(mu_);
            size_ -= batch.size();
        }
        became_empty_.notify_all();  // waiters check for empty or for enough space
    }
    ::close(fd_);
}

}  // namespace tidemark::node
