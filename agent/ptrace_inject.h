// Calling functions inside another process with ptrace (x86-64 Linux, glibc), for
// `tidemark attach --route ptrace`: the target's main thread is stopped only where it waits in
// epoll (node's event loop between two turns, outside JS and outside any lock it holds), the calls
// run on that thread on a scratch area of its own stack, and its registers (general, FPU, SSE,
// AVX) are put back exactly before it goes on. No other thread is stopped.
#pragma once

#include <sys/types.h>
#include <sys/user.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tidemark::agent {

class Tracee {
public:
    explicit Tracee(pid_t pid) : pid_(pid) {}  // a thread id works too (that thread is the one held)
    ~Tracee();  // releases the thread if still held
    Tracee(const Tracee&) = delete;
    Tracee& operator=(const Tracee&) = delete;

    // Seizes the main thread and waits until it is stopped in epoll_wait / epoll_pwait(2), at the
    // call's return (stepping its system calls until one is, for a busy thread). false with a
    // sentence on failure (not permitted, the process ended, no such stop within timeout); the
    // thread is then released.
    bool stop_in_epoll(std::chrono::milliseconds timeout, std::string& error);

    // The same for any call `safe` accepts: the system call's number and the registers at the
    // stop (rdi: its first argument). not_found starts the timeout's sentence.
    using SafeCall = std::function<bool(long nr, const user_regs_struct& regs)>;
    bool stop_in(const SafeCall& safe, const std::string& not_found, std::chrono::milliseconds timeout,
                 std::string& error);

    // Copies bytes (a NUL-terminated string for strings) to the scratch area; the address in the
    // target. Valid until release().
    bool put(const std::string& bytes, uint64_t& addr, std::string& error);
    bool put_string(const std::string& s, uint64_t& addr, std::string& error) { return put(s + '\0', addr, error); }

    // fn(args...) in the target, returning rax. A signal arriving meanwhile is delivered (its
    // handler runs on top of the call, as it would have on top of epoll). false when the call
    // crashed (the registers are put back: the process goes on) or the process ended.
    bool call(uint64_t fn, std::vector<uint64_t> args, uint64_t& ret, std::string& error);

    bool read_string(uint64_t addr, size_t max, std::string& out) const;

    // Puts the registers back and lets the thread go. How long it was held, in ms.
    double release();

    bool held() const { return held_; }

private:
    bool wait_stop(int& status, std::chrono::steady_clock::time_point deadline, std::string& error);

    pid_t pid_;
    bool seized_ = false;
    bool held_ = false;
    user_regs_struct saved_{};
    std::vector<unsigned char> xstate_;
    uint64_t scratch_ = 0;  // next free byte below which nothing of the thread's lies (grows down)
    std::chrono::steady_clock::time_point held_since_{};
};

// The address in pid of the function `name` that this process finds in the C library
// (dlopen, dlsym, dlerror, dlclose): both processes must map the same libc file. 0 with error.
uint64_t remote_libc_function(pid_t pid, const char* name, std::string& error);

}  // namespace tidemark::agent
