// What `tidemark attach` learns about a running process from /proc, with no injection: whether it
// exists and may be attached to, whether it is node (and would survive SIGUSR1), its loopback TCP
// listeners (to find the inspector SIGUSR1 opens, and to check it closed again), and its memory
// for process samples when nothing is injected (native targets).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tidemark::agent {

struct TargetInfo {
    pid_t pid = 0;
    pid_t ppid = 0;
    std::string exe;      // /proc/PID/exe
    std::string cmdline;  // arguments joined by spaces
    bool is_node = false;             // the executable is node (or nodejs, node20…)
    bool catches_sigusr1 = false;     // SIGUSR1 has a handler (node's inspector trigger); else it would kill it
    // Where SIGUSR1 opens node's inspector: 9229 unless --inspect-port (or --debug-port) is among
    // node's options on its command line or in its NODE_OPTIONS; 0 when that asks for any free port.
    uint16_t inspector_port = 9229;
};

// The port a node command line's options (arguments up to the script, then NODE_OPTIONS) give the
// inspector: the last --inspect-port=N, --inspect-port N, --debug-port…, or --inspect[-brk]=[HOST:]N.
// fallback when none is given.
uint16_t node_inspector_port(const std::vector<std::string>& argv, const std::string& node_options,
                             uint16_t fallback = 9229);

// Fills info for pid. false with a message saying what to do when the process does not exist, is
// not ours to inspect (another user's, or ptrace is restricted), or is a zombie.
bool inspect_target(pid_t pid, TargetInfo& info, std::string& error);

// Ports of the process's TCP sockets listening on 127.0.0.1 (IPv4 only: node's inspector binds there).
std::vector<uint16_t> loopback_listen_ports(pid_t pid);

// Whether a socket of some other process listens on 127.0.0.1:port (or on every address) in pid's
// network namespace: node's inspector could not open there.
bool loopback_port_held_by_other(pid_t pid, uint16_t port);

// Resident set size of pid from /proc/PID/statm; 0 when it cannot be read (the process ended).
uint64_t target_rss_bytes(pid_t pid);

// The process still runs (exists and is not a zombie).
bool target_alive(pid_t pid);

}  // namespace tidemark::agent
