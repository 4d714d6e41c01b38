// How a process ended: the one type the recorder, the session and the launcher share (the recorder
// writes it into the trace; it need not know how the process was launched or watched).
#pragma once

#include <sys/wait.h>

namespace tidemark::agent {

struct ExitStatus {
    int code = -1;    // exit code, -1 when a signal ended it
    int signal = 0;   // terminating signal, 0 when none
    // What a shell would report: the code, or 128 + signal.
    int shell_status() const { return signal ? 128 + signal : code; }
    static ExitStatus from_wait_status(int status) {
        ExitStatus e;
        if (WIFEXITED(status)) e.code = WEXITSTATUS(status);
        else if (WIFSIGNALED(status)) e.signal = WTERMSIG(status);
        return e;
    }
};

}  // namespace tidemark::agent
