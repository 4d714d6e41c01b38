// See ptrace_inject.h.
#include "ptrace_inject.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace tidemark::agent {

namespace {

using Clock = std::chrono::steady_clock;

#if defined(__x86_64__)
constexpr long kEpollWait = 232, kEpollPwait = 281, kEpollPwait2 = 441;
#endif

bool is_epoll(long nr) {
#if defined(__x86_64__)
    return nr == kEpollWait || nr == kEpollPwait || nr == kEpollPwait2;
#else
    (void)nr;
    return false;
#endif
}

// The kernel's "interrupted, to be restarted or to return EINTR" results.
bool interrupted(long rax) {
    return rax == -EINTR || rax == -512 /*ERESTARTSYS*/ || rax == -513 /*ERESTARTNOINTR*/ ||
           rax == -514 /*ERESTARTNOHAND*/ || rax == -516 /*ERESTART_RESTARTBLOCK*/;
}

std::string errno_text(int e) { return std::strerror(e); }

bool write_mem(pid_t pid, uint64_t addr, const void* data, size_t n) {
    iovec local{const_cast<void*>(data), n};
    iovec remote{reinterpret_cast<void*>(addr), n};
    return ::process_vm_writev(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(n);
}

}  // namespace

Tracee::~Tracee() {
    if (held_) release();
    if (seized_) ::ptrace(PTRACE_DETACH, pid_, nullptr, nullptr);
}

bool Tracee::wait_stop(int& status, Clock::time_point deadline, std::string& error) {
    // Polled: a thread stuck in some other blocking call must not hang the agent.
    for (;;) {
        const pid_t r = ::waitpid(pid_, &status, __WALL | WNOHANG);
        if (r == pid_) {
            if (WIFEXITED(status) || WIFSIGNALED(status)) {
                seized_ = held_ = false;
                error = "the process ended";
                return false;
            }
            return true;
        }
        if (r < 0 && errno != EINTR) {
            error = "waitpid: " + errno_text(errno);
            return false;
        }
        if (Clock::now() >= deadline) {
            error = "timeout";
            return false;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
}

bool Tracee::stop_in_epoll(std::chrono::milliseconds timeout, std::string& error) {
    return stop_in([](long nr, const user_regs_struct&) { return is_epoll(nr); }, "its main thread did not wait in epoll",
                   timeout, error);
}

bool Tracee::stop_in(const SafeCall& safe, const std::string& not_found, std::chrono::milliseconds timeout,
                     std::string& error) {
#if !defined(__x86_64__)
    (void)safe, (void)not_found, (void)timeout;
    error = "the ptrace route is implemented for x86-64 only";
    return false;
#else
    if (::ptrace(PTRACE_SEIZE, pid_, nullptr, reinterpret_cast<void*>(PTRACE_O_TRACESYSGOOD)) != 0) {
        const int e = errno;
        error = e == EPERM ? "not permitted to ptrace pid " + std::to_string(pid_) +
                                 " (another user's process, a debugger already attached, or ptrace restricted "
                                 "by kernel.yama.ptrace_scope or a container); use the inspector route"
                           : "ptrace(SEIZE) failed: " + errno_text(e);
        return false;
    }
    seized_ = true;
    const auto deadline = Clock::now() + timeout;
    if (::ptrace(PTRACE_INTERRUPT, pid_, nullptr, nullptr) != 0) {
        error = "ptrace(INTERRUPT) failed: " + errno_text(errno);
        return false;
    }
    std::string werr;
    // An epoll entered while stepping may block for long (an idle loop): the thread is then taken
    // out of it with another interrupt, and the call's return (-EINTR) is the stop we want.
    Clock::time_point nudge_at = Clock::time_point::max();
    for (;;) {
        int status = 0;
        bool got = false;
        for (;;) {
            const auto until = std::min(deadline, nudge_at);
            if (wait_stop(status, until, werr)) {
                got = true;
                break;
            }
            if (werr != "timeout" || Clock::now() >= deadline) break;
            ::ptrace(PTRACE_INTERRUPT, pid_, nullptr, nullptr);
            nudge_at = Clock::time_point::max();
        }
        if (!got) {
            if (werr == "timeout") {
                // Take it out of whatever it waits in and let it go.
                ::ptrace(PTRACE_INTERRUPT, pid_, nullptr, nullptr);
                int st = 0;
                std::string e2;
                if (wait_stop(st, Clock::now() + std::chrono::milliseconds(500), e2)) {
                    const bool own = (st >> 16) != 0 || WSTOPSIG(st) == (SIGTRAP | 0x80);
                    ::ptrace(PTRACE_DETACH, pid_, nullptr, reinterpret_cast<void*>(static_cast<long>(own ? 0 : WSTOPSIG(st))));
                    seized_ = false;
                }
                error = not_found + " within " + std::to_string(timeout.count()) +
                        " ms (busy in a long computation or blocked in another call)";
            } else {
                error = werr;
            }
            return false;
        }
        const int sig = WSTOPSIG(status);
        const int event = status >> 16;
        long inject = 0;  // signal to pass on
        bool check = false;
        if (sig == (SIGTRAP | 0x80)) {  // a system-call stop
            __ptrace_syscall_info info{};
            if (::ptrace(PTRACE_GET_SYSCALL_INFO, pid_, reinterpret_cast<void*>(sizeof info), &info) > 0) {
                if (info.op == PTRACE_SYSCALL_INFO_EXIT) check = true;
                if (info.op == PTRACE_SYSCALL_INFO_ENTRY) {
                    user_regs_struct at{};
                    at.rdi = info.entry.args[0];
                    if (safe(static_cast<long>(info.entry.nr), at)) nudge_at = Clock::now() + std::chrono::milliseconds(2);
                }
            }
        } else if (event == PTRACE_EVENT_STOP) {
            check = true;  // an interrupt's stop: perhaps in epoll already
        } else if (event == 0) {
            inject = sig;  // a signal for the thread: delivered as if we were not here
        }
        if (check) {
            user_regs_struct regs{};
            if (::ptrace(PTRACE_GETREGS, pid_, nullptr, &regs) == 0 && safe(static_cast<long>(regs.orig_rax), regs) &&
                (static_cast<long>(regs.rax) >= 0 || interrupted(static_cast<long>(regs.rax)))) {
                saved_ = regs;
                xstate_.assign(16384, 0);
                iovec iov{xstate_.data(), xstate_.size()};
                if (::ptrace(PTRACE_GETREGSET, pid_, reinterpret_cast<void*>(NT_X86_XSTATE), &iov) != 0) {
                    user_fpregs_struct fp{};  // no XSAVE: the FPU and SSE state
                    if (::ptrace(PTRACE_GETFPREGS, pid_, nullptr, &fp) != 0) {
                        error = "cannot read the thread's FPU registers";
                        return false;
                    }
                    xstate_.assign(reinterpret_cast<unsigned char*>(&fp), reinterpret_cast<unsigned char*>(&fp) + sizeof fp);
                    xstate_.push_back(0);  // marks "FPREGS, not XSTATE"
                } else {
                    xstate_.resize(iov.iov_len);
                }
                // Below the thread's stack pointer, past the red zone (128 bytes) with room to spare.
                scratch_ = (saved_.rsp - 1024) & ~uint64_t{15};
                held_ = true;
                held_since_ = Clock::now();
                return true;
            }
        }
        if (::ptrace(PTRACE_SYSCALL, pid_, nullptr, reinterpret_cast<void*>(inject)) != 0) {
            error = "ptrace(SYSCALL) failed: " + errno_text(errno);
            return false;
        }
    }
#endif
}

bool Tracee::put(const std::string& bytes, uint64_t& addr, std::string& error) {
    scratch_ = (scratch_ - bytes.size()) & ~uint64_t{15};
    if (!write_mem(pid_, scratch_, bytes.data(), bytes.size())) {
        error = "cannot write to the process's stack: " + errno_text(errno);
        return false;
    }
    addr = scratch_;
    return true;
}

bool Tracee::read_string(uint64_t addr, size_t max, std::string& out) const {
    out.clear();
    std::vector<char> buf(max);
    iovec local{buf.data(), max};
    iovec remote{reinterpret_cast<void*>(addr), max};
    ssize_t n = ::process_vm_readv(pid_, &local, 1, &remote, 1, 0);
    if (n <= 0) {
        // The string may end near a page end: read what there is, a byte at a time.
        for (n = 0; static_cast<size_t>(n) < max; ++n) {
            iovec l{buf.data() + n, 1}, r{reinterpret_cast<void*>(addr + static_cast<uint64_t>(n)), 1};
            if (::process_vm_readv(pid_, &l, 1, &r, 1, 0) != 1) break;
            if (buf[static_cast<size_t>(n)] == '\0') break;
        }
        if (n == 0) return false;
    }
    out.assign(buf.data(), strnlen(buf.data(), static_cast<size_t>(n)));
    return true;
}

bool Tracee::call(uint64_t fn, std::vector<uint64_t> args, uint64_t& ret, std::string& error) {
#if !defined(__x86_64__)
    (void)fn, (void)args, (void)ret;
    error = "x86-64 only";
    return false;
#else
    if (!held_) {
        error = "the thread is not held";
        return false;
    }
    user_regs_struct regs = saved_;
    // The call returns to address 0: the fault there (SIGSEGV at rip 0) is its end.
    const uint64_t top = (scratch_ - 256) & ~uint64_t{15};
    const uint64_t zero = 0;
    if (!write_mem(pid_, top - 8, &zero, sizeof zero)) {
        error = "cannot write to the process's stack: " + errno_text(errno);
        return false;
    }
    regs.rsp = top - 8;  // as after a call instruction: (rsp + 8) % 16 == 0
    regs.rip = fn;
    regs.rax = 0;
    regs.orig_rax = static_cast<unsigned long long>(-1);  // no system-call restart on the way out
    uint64_t* slots[] = {reinterpret_cast<uint64_t*>(&regs.rdi), reinterpret_cast<uint64_t*>(&regs.rsi),
                         reinterpret_cast<uint64_t*>(&regs.rdx), reinterpret_cast<uint64_t*>(&regs.rcx),
                         reinterpret_cast<uint64_t*>(&regs.r8), reinterpret_cast<uint64_t*>(&regs.r9)};
    for (size_t i = 0; i < args.size() && i < 6; ++i) *slots[i] = args[i];
    if (::ptrace(PTRACE_SETREGS, pid_, nullptr, &regs) != 0) {
        error = "ptrace(SETREGS) failed: " + errno_text(errno);
        return false;
    }
    long inject = 0;
    for (;;) {
        if (::ptrace(PTRACE_CONT, pid_, nullptr, reinterpret_cast<void*>(inject)) != 0) {
            error = "ptrace(CONT) failed: " + errno_text(errno);
            return false;
        }
        inject = 0;
        int status = 0;
        // dlopen of a small library takes milliseconds; a minute means something is badly wrong,
        // but the thread is on our frame and cannot be let go before the call returns.
        if (!wait_stop(status, Clock::now() + std::chrono::seconds(60), error)) return false;
        const int sig = WSTOPSIG(status);
        const int event = status >> 16;
        if (event != 0 || sig == (SIGTRAP | 0x80)) continue;
        if (sig == SIGSEGV) {
            user_regs_struct now{};
            if (::ptrace(PTRACE_GETREGS, pid_, nullptr, &now) != 0) {
                error = "ptrace(GETREGS) failed: " + errno_text(errno);
                return false;
            }
            if (now.rip == 0) {
                ret = now.rax;
                return true;
            }
            error = "the call crashed in the process (SIGSEGV at 0x" + [&] {
                std::ostringstream o;
                o << std::hex << now.rip;
                return o.str();
            }() + "); its registers were put back";
            return false;
        }
        inject = sig;
    }
#endif
}

double Tracee::release() {
    if (!held_) return 0;
    ::ptrace(PTRACE_SETREGS, pid_, nullptr, &saved_);
    if (!xstate_.empty() && xstate_.back() == 0 && xstate_.size() == sizeof(user_fpregs_struct) + 1) {
        ::ptrace(PTRACE_SETFPREGS, pid_, nullptr, xstate_.data());
    } else if (!xstate_.empty()) {
        iovec iov{xstate_.data(), xstate_.size()};
        ::ptrace(PTRACE_SETREGSET, pid_, reinterpret_cast<void*>(NT_X86_XSTATE), &iov);
    }
    held_ = false;
    ::ptrace(PTRACE_DETACH, pid_, nullptr, nullptr);  // a pending SIGSEGV of ours is dropped with it
    seized_ = false;
    return std::chrono::duration<double, std::milli>(Clock::now() - held_since_).count();
}

uint64_t remote_libc_function(pid_t pid, const char* name, std::string& error) {
    // Our own libc's copy of the function (not an interceptor's: sanitizers wrap dlopen).
    void* libc = ::dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    void* fn = libc != nullptr ? ::dlsym(libc, name) : nullptr;
    Dl_info info{};
    if (fn == nullptr || ::dladdr(fn, &info) == 0 || info.dli_fname == nullptr) {
        if (libc != nullptr) ::dlclose(libc);
        error = std::string("cannot find ") + name + " in tidemark's own C library";
        return 0;
    }
    const std::string ours = info.dli_fname;
    const uint64_t offset = reinterpret_cast<uint64_t>(fn) - reinterpret_cast<uint64_t>(info.dli_fbase);
    ::dlclose(libc);
    struct stat st{};
    if (::stat(ours.c_str(), &st) != 0) {
        error = "cannot stat " + ours;
        return 0;
    }
    std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
    std::string line;
    while (std::getline(maps, line)) {
        std::istringstream in(line);
        std::string range, perms, off, dev, path;
        unsigned long long inode = 0;
        in >> range >> perms >> off >> dev >> inode;
        std::getline(in >> std::ws, path);
        if (inode != st.st_ino || std::stoull(off, nullptr, 16) != 0) continue;
        const uint64_t start = std::stoull(range.substr(0, range.find('-')), nullptr, 16);
        return start + offset;
    }
    error = "pid " + std::to_string(pid) + " does not map tidemark's C library (" + ours +
            "): a static or different libc (a container's?); use the inspector route";
    return 0;
}

}  // namespace tidemark::agent
