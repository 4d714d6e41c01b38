// The subcommands of `tidemark`. Each add_*_command registers its options on the top-level app
// and returns what to run once the command line parsed; main.cpp only dispatches.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "cli.h"

namespace tidemark::agent {

struct Command {
    CLI::App* app = nullptr;
    std::function<int()> run;  // returns the process exit code
    // Takes the arguments after `--` (main.cpp splits them off before parsing, so a target's own
    // flags are never read as tidemark's). Null for commands that take none.
    std::function<bool(std::vector<std::string>, std::string& error)> take_trailing;
};

Command add_run_command(CLI::App& parent);
Command add_report_command(CLI::App& parent);
Command add_check_command(CLI::App& parent);
Command add_dump_command(CLI::App& parent);
Command add_attach_command(CLI::App& parent);

// Exit code for usage errors and unreadable input (PRODUCT.md).
inline constexpr int kExitUsage = 2;

}  // namespace tidemark::agent
