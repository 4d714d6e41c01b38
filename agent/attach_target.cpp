// /proc readings for `tidemark attach` (see attach_target.h).
#include "attach_target.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>

namespace tidemark::agent {

namespace {

std::string proc_path(pid_t pid, const char* what) { return "/proc/" + std::to_string(pid) + "/" + what; }

bool read_file(const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::ostringstream ss;
    ss << in.rdbuf();
    out = ss.str();
    return true;
}

// "State:\tS (sleeping)" → 'S'; the hex masks by name.
std::string status_field(const std::string& status, std::string_view name) {
    size_t pos = 0;
    while (pos < status.size()) {
        const size_t end = status.find('\n', pos);
        const std::string_view line(status.data() + pos, (end == std::string::npos ? status.size() : end) - pos);
        if (line.size() > name.size() && line.substr(0, name.size()) == name && line[name.size()] == ':') {
            std::string_view v = line.substr(name.size() + 1);
            while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
            return std::string(v);
        }
        if (end == std::string::npos) break;
        pos = end + 1;
    }
    return "";
}

bool node_executable(const std::string& exe) {
    std::string base = exe.substr(exe.rfind('/') + 1);
    if (const size_t d = base.find(" (deleted)"); d != std::string::npos) base.resize(d);
    if (base.rfind("nodejs", 0) == 0) base = base.substr(6);
    else if (base.rfind("node", 0) == 0) base = base.substr(4);
    else return false;
    for (char c : base)
        if (!(c >= '0' && c <= '9') && c != '.' && c != '-') return false;  // node, node20, node-20.1
    return true;
}

// "--inspect-port=9300" / "--inspect=127.0.0.1:9300" → 9300; a value that is no port → -1.
int port_value(std::string_view v) {
    if (const size_t colon = v.rfind(':'); colon != std::string_view::npos) v.remove_prefix(colon + 1);
    if (v.empty() || v.size() > 5) return -1;
    int n = 0;
    for (char c : v) {
        if (c < '0' || c > '9') return -1;
        n = n * 10 + (c - '0');
    }
    return n <= 65535 ? n : -1;
}

// Applies one node option (and the argument after it, when the option takes one) to port.
// Returns how many of the two it consumed.
int apply_option(std::string_view a, const std::string* next, int& port) {
    for (std::string_view name : {"--inspect-port", "--debug-port"}) {
        if (a == name) {
            if (next && port_value(*next) >= 0) port = port_value(*next);
            return next ? 2 : 1;
        }
        if (a.size() > name.size() && a.substr(0, name.size()) == name && a[name.size()] == '=') {
            if (const int v = port_value(a.substr(name.size() + 1)); v >= 0) port = v;
            return 1;
        }
    }
    for (std::string_view name : {"--inspect", "--inspect-brk", "--inspect-wait"})
        if (a.size() > name.size() && a.substr(0, name.size()) == name && a[name.size()] == '=') {
            if (const int v = port_value(a.substr(name.size() + 1)); v >= 0) port = v;
            return 1;
        }
    return 1;
}

}  // namespace

uint16_t node_inspector_port(const std::vector<std::string>& argv, const std::string& node_options,
                             uint16_t fallback) {
    int port = -1;
    // NODE_OPTIONS first: options on the command line take precedence over it.
    std::vector<std::string> opts;
    std::istringstream in(node_options);
    for (std::string w; in >> w;) opts.push_back(w);
    for (size_t i = 0; i < opts.size();)
        i += static_cast<size_t>(apply_option(opts[i], i + 1 < opts.size() ? &opts[i + 1] : nullptr, port));
    // node's own options end at the script (or at -e/-p's code, or "--").
    for (size_t i = 1; i < argv.size();) {
        const std::string& a = argv[i];
        if (a == "--" || a.empty() || a[0] != '-') break;
        if (a == "-e" || a == "--eval" || a == "-p" || a == "--print" || a == "-r" || a == "--require") {
            i += 2;
            continue;
        }
        i += static_cast<size_t>(apply_option(a, i + 1 < argv.size() ? &argv[i + 1] : nullptr, port));
    }
    return port >= 0 ? static_cast<uint16_t>(port) : fallback;
}

bool inspect_target(pid_t pid, TargetInfo& info, std::string& error) {
    const std::string who = "pid " + std::to_string(pid);
    if (pid <= 0) {
        error = "`" + std::to_string(pid) + "` is not a process id";
        return false;
    }
    if (::kill(pid, 0) != 0) {
        if (errno == ESRCH) {
            error = "no process with " + who + " (has it exited? check with `ps -p " + std::to_string(pid) + "`)";
        } else {
            error = "not permitted to attach to " + who +
                    " (it belongs to another user): run tidemark as that user, or as root";
        }
        return false;
    }
    info = TargetInfo{};
    info.pid = pid;
    std::string status;
    if (!read_file(proc_path(pid, "status"), status)) {
        error = "cannot read /proc/" + std::to_string(pid) + "/status: " + std::strerror(errno);
        return false;
    }
    if (status_field(status, "State").rfind("Z", 0) == 0) {
        error = who + " has exited (a zombie waiting for its parent); there is nothing to attach to";
        return false;
    }
    info.ppid = static_cast<pid_t>(std::strtol(status_field(status, "PPid").c_str(), nullptr, 10));
    const unsigned long long caught = std::strtoull(status_field(status, "SigCgt").c_str(), nullptr, 16);
    info.catches_sigusr1 = (caught >> (SIGUSR1 - 1)) & 1u;
    char buf[4096];
    const ssize_t n = ::readlink(proc_path(pid, "exe").c_str(), buf, sizeof buf - 1);
    if (n < 0) {
        // The process exists and is signalable, but /proc/PID/exe needs ptrace access.
        error = "not permitted to inspect " + who + " (" + std::strerror(errno) +
                "): run tidemark as the process's user or as root; with kernel.yama.ptrace_scope > 0, "
                "as root";
        return false;
    }
    info.exe.assign(buf, static_cast<size_t>(n));
    info.is_node = node_executable(info.exe);
    std::string cmd;
    if (read_file(proc_path(pid, "cmdline"), cmd)) {
        std::vector<std::string> argv;
        for (size_t pos = 0; pos < cmd.size();) {
            const size_t end = cmd.find('\0', pos);
            argv.emplace_back(cmd, pos, (end == std::string::npos ? cmd.size() : end) - pos);
            pos = end == std::string::npos ? cmd.size() : end + 1;
        }
        std::string env, node_options;
        if (read_file(proc_path(pid, "environ"), env))
            for (size_t pos = 0; pos < env.size();) {
                const size_t end = env.find('\0', pos);
                const std::string_view var(env.data() + pos, (end == std::string::npos ? env.size() : end) - pos);
                if (var.rfind("NODE_OPTIONS=", 0) == 0) node_options = std::string(var.substr(13));
                pos = end == std::string::npos ? env.size() : end + 1;
            }
        if (info.is_node) info.inspector_port = node_inspector_port(argv, node_options);
        for (char& c : cmd)
            if (c == '\0') c = ' ';
        while (!cmd.empty() && cmd.back() == ' ') cmd.pop_back();
        info.cmdline = cmd;
    }
    return true;
}

namespace {

std::set<unsigned long> socket_inodes(pid_t pid) {
    std::set<unsigned long> inodes;
    const std::string fd_dir = proc_path(pid, "fd");
    if (DIR* d = ::opendir(fd_dir.c_str())) {
        while (dirent* e = ::readdir(d)) {
            if (e->d_name[0] == '.') continue;
            char target[64];
            const ssize_t n = ::readlink((fd_dir + "/" + e->d_name).c_str(), target, sizeof target - 1);
            if (n <= 0) continue;
            target[n] = '\0';
            if (std::strncmp(target, "socket:[", 8) == 0) inodes.insert(std::strtoul(target + 8, nullptr, 10));
        }
        ::closedir(d);
    }
    return inodes;
}

struct Listener {
    std::string address;  // hex, as /proc/net/tcp writes it: 0100007F is 127.0.0.1, 00000000 is any
    uint16_t port = 0;
    unsigned long inode = 0;
};

// IPv4 TCP listeners in pid's network namespace, whoever owns them.
std::vector<Listener> tcp_listeners(pid_t pid) {
    std::vector<Listener> out;
    std::ifstream tcp(proc_path(pid, "net/tcp"));
    std::string line;
    std::getline(tcp, line);  // header
    while (std::getline(tcp, line)) {
        // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
        std::istringstream ls(line);
        std::string sl, local, remote, state, queues, timer, retr, uid, timeout;
        unsigned long inode = 0;
        if (!(ls >> sl >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >> inode)) continue;
        if (state != "0A") continue;  // 0A: LISTEN
        const size_t colon = local.find(':');
        if (colon == std::string::npos) continue;
        out.push_back({local.substr(0, colon), static_cast<uint16_t>(std::strtoul(local.c_str() + colon + 1, nullptr, 16)),
                       inode});
    }
    return out;
}

}  // namespace

std::vector<uint16_t> loopback_listen_ports(pid_t pid) {
    const std::set<unsigned long> inodes = socket_inodes(pid);
    std::vector<uint16_t> ports;
    for (const Listener& l : tcp_listeners(pid))
        if (l.address == "0100007F" && inodes.count(l.inode)) ports.push_back(l.port);
    return ports;
}

bool loopback_port_held_by_other(pid_t pid, uint16_t port) {
    const std::set<unsigned long> inodes = socket_inodes(pid);
    for (const Listener& l : tcp_listeners(pid))
        if (l.port == port && (l.address == "0100007F" || l.address == "00000000") && !inodes.count(l.inode)) return true;
    return false;
}

uint64_t target_rss_bytes(pid_t pid) {
    std::ifstream in(proc_path(pid, "statm"));
    uint64_t size = 0, resident = 0;
    if (!(in >> size >> resident)) return 0;
    return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

bool target_alive(pid_t pid) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
    std::string status;
    if (!read_file(proc_path(pid, "status"), status)) return false;
    return status_field(status, "State").rfind("Z", 0) != 0;
}

}  // namespace tidemark::agent
