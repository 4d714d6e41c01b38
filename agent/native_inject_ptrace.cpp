// See native_inject.h.
#include <dirent.h>
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <vector>

#include "native_inject.h"
#include "ptrace_inject.h"

namespace tidemark::agent {

namespace {

using std::chrono::milliseconds;
constexpr milliseconds kStopWait{3000};

struct Waiting {
    pid_t tid;
    long nr;
    uint64_t arg0;
};

// Every thread of pid and the system call it is blocked in now (/proc/PID/task/TID/syscall:
// "NR ARG0 …" while in a call, "running" or -1 otherwise).
std::vector<Waiting> threads_waiting(pid_t pid) {
    std::vector<Waiting> out;
    const std::string dir = "/proc/" + std::to_string(pid) + "/task";
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return out;
    while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        const pid_t tid = static_cast<pid_t>(std::stol(e->d_name));
        std::ifstream in(dir + "/" + e->d_name + "/syscall");
        std::string nr, a0;
        if (!(in >> nr >> a0) || nr.empty() || !(std::isdigit(static_cast<unsigned char>(nr[0])))) {
            out.push_back({tid, -1, 0});
            continue;
        }
        out.push_back({tid, std::stol(nr), std::stoull(a0, nullptr, 16)});
    }
    ::closedir(d);
    std::sort(out.begin(), out.end(), [pid](const Waiting& a, const Waiting& b) {
        if ((a.tid == pid) != (b.tid == pid)) return a.tid == pid;  // the main thread first
        return a.tid < b.tid;
    });
    return out;
}


}  // namespace

std::string safe_blocking_call(pid_t pid, long nr, uint64_t fd) {
#if defined(__x86_64__)
    switch (nr) {
        case 0:
        case 19: {  // read, readv: not of a file (the loader reads ELF files holding its lock)
            char target[256];
            const std::string link = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
            const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
            if (n <= 0) return "";
            const std::string t(target, static_cast<size_t>(n));
            const bool safe = t.rfind("socket:", 0) == 0 || t.rfind("pipe:", 0) == 0 || t.rfind("/dev/pts/", 0) == 0 ||
                              t.rfind("/dev/tty", 0) == 0 || t.rfind("anon_inode:", 0) == 0;
            return safe ? (nr == 0 ? "read" : "readv") : "";
        }
        case 7: return "poll";
        case 23: return "select";
        case 34: return "pause";
        case 35: return "nanosleep";
        case 43: return "accept";
        case 45: return "recvfrom";
        case 47: return "recvmsg";
        case 61: return "wait4";
        case 128: return "rt_sigtimedwait";
        case 130: return "rt_sigsuspend";
        case 230: return "clock_nanosleep";
        case 232: return "epoll_wait";
        case 247: return "waitid";
        case 270: return "pselect6";
        case 271: return "ppoll";
        case 281: return "epoll_pwait";
        case 288: return "accept4";
        case 299: return "recvmmsg";
        case 441: return "epoll_pwait2";
        default: return "";
    }
#else
    (void)pid, (void)nr, (void)fd;
    return "";
#endif
}

bool inject_native_tracker_ptrace(const NativeInjectRequest& req, NativeInjectReport& report, std::string& error) {
    const std::string who = "pid " + std::to_string(req.pid);
    if (::access(req.library.c_str(), R_OK) != 0) {
        error = "the native tracker " + req.library + " is missing; rebuild or reinstall tidemark";
        return false;
    }
    uint64_t f_dlopen = remote_libc_function(req.pid, "dlopen", error);
    if (f_dlopen == 0) return false;
    const uint64_t f_dlsym = remote_libc_function(req.pid, "dlsym", error);
    const uint64_t f_dlerror = remote_libc_function(req.pid, "dlerror", error);
    if (f_dlsym == 0 || f_dlerror == 0) return false;

    // Which thread: one waiting in a safe call now (the main thread preferred), else the main
    // thread, stepped until it enters one.
    pid_t tid = req.pid;
    for (const Waiting& w : threads_waiting(req.pid)) {
        if (!safe_blocking_call(req.pid, w.nr, w.arg0).empty()) {
            tid = w.tid;
            break;
        }
    }
    Tracee t(tid);
    std::string call;
    const pid_t pid = req.pid;
    auto safe = [pid, &call](long nr, const user_regs_struct& regs) {
        call = safe_blocking_call(pid, nr, regs.rdi);
        return !call.empty();
    };
    const std::string thread = tid == req.pid ? "its main thread" : "thread " + std::to_string(tid);
    if (!t.stop_in(safe, thread + " did not wait in a call where the allocator and the loader hold no lock (sleep, "
                              "poll, epoll, accept, read of a socket or pipe…)",
                   kStopWait, error)) {
        error = "cannot stop " + who + " where it is safe to load a library: " + error;
        return false;
    }
    report.tid = tid;
    report.main_thread = tid == req.pid;
    report.call = call;
    std::ostringstream config;
    config << "socket=" << req.socket_path << "\nmode=" << req.mode << "\nsample=" << req.sample_interval_bytes
           << "\ninterval=" << req.interval_ms << "\n";
    uint64_t path_addr = 0, name_addr = 0, config_addr = 0, out_addr = 0, handle = 0, fn = 0, rc = 0;
    std::string e;
    constexpr size_t kOut = 512;
    if (!t.put_string(req.library, path_addr, e) || !t.put_string("tidemark_native_attach", name_addr, e) ||
        !t.put_string(config.str(), config_addr, e) || !t.put(std::string(kOut, '\0'), out_addr, e)) {
        report.stopped_ms = t.release();
        error = e;
        return false;
    }
    if (!t.call(f_dlopen, {path_addr, RTLD_NOW | RTLD_LOCAL}, handle, e) || handle == 0) {
        std::string why = e;
        if (why.empty()) {
            uint64_t p = 0;
            if (!t.call(f_dlerror, {}, p, e) || p == 0 || !t.read_string(p, 512, why)) why = "no reason given";
        }
        report.stopped_ms = t.release();
        error = "loading " + req.library + " into " + who + " failed: " + why;
        return false;
    }
    if (!t.call(f_dlsym, {handle, name_addr}, fn, e) || fn == 0) {
        report.stopped_ms = t.release();
        error = req.library + " has no tidemark_native_attach (a mismatched install?); it stays loaded, inert";
        return false;
    }
    const bool called = t.call(fn, {config_addr, out_addr, kOut}, rc, e);
    std::string text;
    if (called) t.read_string(out_addr, kOut, text);
    report.stopped_ms = t.release();
    if (!called) {
        error = "the tracker's start failed in " + who + ": " + e;
        return false;
    }
    if (static_cast<int>(rc) == 3) {
        error = who + " is tracked already: it runs under `tidemark run --native`, whose trace records its allocations";
        return false;
    }
    if (static_cast<int>(rc) != 0) {
        error = "the native tracker refused: " + (text.empty() ? std::string("no reason given") : text) +
                " (its library stays loaded in " + who + ", inert)";
        return false;
    }
    report.message = text;
    return true;
}

}  // namespace tidemark::agent
