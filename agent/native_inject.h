// `tidemark attach PID --native [sampled|full]` on a native process: the native tracker
// (libtidemark_native.so) loaded into it by ptrace, and its allocator calls led to the tracker by
// rewriting the GOT slots of the malloc family (tracker/native/attach.cpp). Riskier than the
// /proc-only attach (docs/NATIVE.md, "Attaching"), hence behind the flag.
//
// One thread is stopped, at most a few ms, where it waits in a blocking call that neither the
// allocator nor the dynamic loader makes while holding a lock (nanosleep, poll, epoll_wait,
// accept, read of a socket/pipe/terminal, …): the main thread when it is there, else another
// thread that is, else the main thread once it gets there (3 s at most). On it: dlopen, dlsym and
// tidemark_native_attach(). The session ends when the agent closes the connection; the tracker
// then puts every slot back and stays loaded, inert.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace tidemark::agent {

struct NativeInjectRequest {
    pid_t pid = 0;
    std::string library;      // <libdir>/libtidemark_native.so
    std::string socket_path;  // the agent's listening socket
    std::string mode = "sampled";
    uint64_t sample_interval_bytes = 512 * 1024;
    uint32_t interval_ms = 100;
};

struct NativeInjectReport {
    pid_t tid = 0;            // the thread that was stopped
    bool main_thread = false;
    std::string call;         // the system call it waited in ("nanosleep", …)
    double stopped_ms = 0;
    std::string message;      // the tracker's own sentence (slots patched)
};

// false with a sentence when nothing could be loaded or the tracker refused; the process goes on
// as before (a library that loaded but refused stays mapped, inert).
bool inject_native_tracker_ptrace(const NativeInjectRequest& req, NativeInjectReport& report, std::string& error);

// The system call's name when it is a safe place to stop a thread for the injection (fd: its
// first argument, for read/readv: only sockets, pipes, terminals and eventfds are safe); "" if not.
std::string safe_blocking_call(pid_t pid, long nr, uint64_t fd);

}  // namespace tidemark::agent
