// Ctrl-C at a terminal: the kernel sends SIGINT to the whole foreground process group, which holds
// both tidemark and its target. The target must get it exactly once (tidemark passes on only
// signals sent to it with kill()), as if it had been started without tidemark.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>

#include "run_helpers.h"

using namespace tidemark::test;

TEST_CASE("Ctrl-C at a terminal reaches the target once", "[run][signals][tty]") {
    TempDir dir;
    const int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    REQUIRE(master >= 0);
    REQUIRE(grantpt(master) == 0);
    REQUIRE(unlockpt(master) == 0);
    const std::string slave_name = ptsname(master);
    const std::string trace = dir.file("tty.tidemark");
    const std::string app = fixture("count_sigint.js");

    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        setsid();  // a new session whose controlling terminal is the pty
        const int slave = open(slave_name.c_str(), O_RDWR);
        if (slave < 0) _exit(120);
        ioctl(slave, TIOCSCTTY, 0);
        dup2(slave, 0);
        dup2(slave, 1);
        dup2(slave, 2);
        execl(TIDEMARK_BIN, TIDEMARK_BIN, "run", "--out", trace.c_str(), "--", "node", app.c_str(),
              static_cast<char*>(nullptr));
        _exit(127);
    }

    std::string output;
    bool sent = false;
    const auto start = std::chrono::steady_clock::now();
    char buf[4096];
    for (;;) {
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (elapsed > 15) {
            kill(pid, SIGKILL);
            break;
        }
        pollfd p{master, POLLIN, 0};
        if (poll(&p, 1, 100) > 0) {
            const ssize_t n = read(master, buf, sizeof buf);
            if (n <= 0) break;  // the session ended (EIO once every slave is closed)
            output.append(buf, static_cast<size_t>(n));
        }
        if (!sent && output.find("ready") != std::string::npos) {
            const char ctrl_c = 0x03;  // the line discipline turns it into SIGINT for the group
            REQUIRE(write(master, &ctrl_c, 1) == 1);
            sent = true;
        }
    }
    int status = 0;
    waitpid(pid, &status, 0);
    close(master);
    INFO("terminal output: " << output);
    REQUIRE(sent);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 11);  // one SIGINT; 12 would mean tidemark sent it again
    CHECK(report_json(trace).at("process").at("exit").value("code", -1) == 11);
}
