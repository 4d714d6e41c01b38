// What `tidemark run` and `tidemark attach` share on the command line and at the end of a
// recording (defined in cmd_run.cpp).
#pragma once

#include <string>

#include "cli.h"  // first: check_cli.h includes CLI11 too
#include "check_cli.h"
#include "run_session.h"

namespace tidemark::agent {

// --live ADDR, validated as a loopback address.
void add_live_option(CLI::App& cmd, std::string& live);
// --check and the budget options, which need it. verb: "run" / "attach" for the help text.
void add_check_flag(CLI::App& cmd, bool& check_flag, CheckOptions& options, const std::string& verb);
// Finishes the analysis, prints the findings and a one-line summary that starts with
// how_it_ended, and runs the gate when check is given. Returns the gate's verdict (0 without it).
int finish_recording(model::Analysis& analysis, const SessionOutcome& outcome, const std::string& how_it_ended,
                     const CheckOptions* check);

}  // namespace tidemark::agent
