// Private Unix-socket server and wire framing for tracker connections (see listener.h).
#include "listener.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace tidemark::agent {

Listener::~Listener() { close(); }

bool Listener::open(std::string& error) {
    std::string base = "/tmp";
    if (const char* t = std::getenv("TMPDIR"); t && *t) base = t;
    // sun_path holds 108 bytes; a deep TMPDIR would not fit, /tmp always does.
    if (base.size() > 60) base = "/tmp";
    std::string templ = base + "/tidemark-XXXXXX";
    if (!mkdtemp(templ.data())) {
        error = "cannot create a private temporary directory in " + base + ": " +
                std::strerror(errno) + "; set TMPDIR to a writable directory";
        return false;
    }
    dir_ = templ;
    ::chmod(dir_.c_str(), 0700);
    socket_path_ = dir_ + "/agent.sock";

    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
        error = std::string("cannot create a Unix socket: ") + std::strerror(errno);
        return false;
    }
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 128) != 0) {
        error = "cannot listen on " + socket_path_ + ": " + std::strerror(errno);
        return false;
    }
    ::chmod(socket_path_.c_str(), 0600);
    spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    return true;
}

int Listener::accept_one() {
    if (fd_ < 0) return -1;
    for (;;) {
        const int c = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c >= 0) return c;
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if ((errno == EMFILE || errno == ENFILE) && spare_fd_ >= 0) {
            ::close(spare_fd_);
            const int shed = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (shed >= 0) { ::close(shed); ++shed_; }
            spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (shed >= 0) continue;
        }
        return -1;
    }
}

void Listener::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (spare_fd_ >= 0) ::close(spare_fd_);
    spare_fd_ = -1;
    if (!socket_path_.empty()) ::unlink(socket_path_.c_str());
    if (!dir_.empty()) ::rmdir(dir_.c_str());
    socket_path_.clear();
    dir_.clear();
}

FrameReader::Status FrameReader::pump(int fd, size_t budget_bytes,
                                      const std::function<bool(const uint8_t*, size_t)>& on_record,
                                      std::string& error) {
    size_t read_total = 0;
    while (read_total < budget_bytes) {
        // Compact once the consumed prefix dominates, so the buffer stays bounded by one record.
        if (start_ > 0 && start_ >= buf_.size() / 2) {
            buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(start_));
            start_ = 0;
        }
        const size_t chunk = 64 * 1024;
        const size_t at = buf_.size();
        buf_.resize(at + chunk);
        const ssize_t n = ::read(fd, buf_.data() + at, chunk);
        if (n < 0) {
            buf_.resize(at);
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::Open;
            error = std::string("read failed: ") + std::strerror(errno);
            return Status::Closed;
        }
        buf_.resize(at + static_cast<size_t>(n));
        if (n == 0) {
            if (!split(on_record, error)) return Status::Malformed;
            return Status::Closed;
        }
        read_total += static_cast<size_t>(n);
        total_bytes_ += static_cast<uint64_t>(n);
        if (!split(on_record, error)) return Status::Malformed;
    }
    return Status::Open;
}

bool FrameReader::split(const std::function<bool(const uint8_t*, size_t)>& on_record,
                        std::string& error) {
    while (buf_.size() - start_ >= 4) {
        const uint8_t* p = buf_.data() + start_;
        const uint32_t len = static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
                             (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
        if (len == 0 || len > max_record_bytes_) {
            error = "a frame announces " + std::to_string(len) + " bytes (limit " +
                    std::to_string(max_record_bytes_) + ")";
            return false;
        }
        if (buf_.size() - start_ - 4 < len) break;
        if (!on_record(p + 4, len)) return false;
        start_ += 4 + len;
    }
    if (start_ == buf_.size()) {
        buf_.clear();
        start_ = 0;
    }
    return true;
}

}  // namespace tidemark::agent
