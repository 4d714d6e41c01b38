// `tidemark`: records and judges why a Node.js process's memory grows. This file only parses the
// command line and dispatches to one subcommand (cmd_run.cpp, cmd_attach.cpp, cmd_report.cpp,
// cmd_check.cpp, cmd_dump.cpp).
#include <iostream>
#include <string>
#include <vector>

#include "cli.h"
#include "commands.h"

int main(int argc, char** argv) {
    using namespace tidemark::agent;
    CLI::App app{"tidemark — tells you why a Node.js process's memory grows.\n"
                 "Record with `tidemark run` or `tidemark attach PID`, read with `tidemark report`, gate CI with `tidemark check`.",
                 "tidemark"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("tidemark 0.1.0"));
    std::vector<Command> commands = {add_run_command(app), add_attach_command(app), add_report_command(app),
                                     add_check_command(app), add_dump_command(app)};

    if (argc >= 2 && argv[1][0] != '-') {
        const std::string name = argv[1];
        bool known = false;
        for (const auto& c : commands) known = known || c.app->get_name() == name;
        if (!known) {
            std::cerr << "tidemark: unknown command `" << name
                      << "`; the commands are run, attach, report, check and dump (see `tidemark --help`)\n";
            return kExitUsage;
        }
    }

    // Everything after the first `--` belongs to the target command, never to tidemark.
    std::vector<std::string> trailing;
    int parsed_argc = argc;
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) == "--") {
            trailing.assign(argv + i + 1, argv + argc);
            parsed_argc = i;
            break;
        }
    }

    try {
        app.parse(parsed_argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::string where = "tidemark";
        for (const auto* sub : app.get_subcommands()) where += " " + sub->get_name();
        std::cerr << "tidemark: " << e.what() << "\n";
        if (where == "tidemark run" && dynamic_cast<const CLI::ExtrasError*>(&e))
            std::cerr << "Put the command and its own arguments after `--`: tidemark run [OPTIONS] -- CMD [ARGS...]\n";
        std::cerr << "Run `" << where << " --help` for usage.\n";
        return kExitUsage;
    }
    for (auto& command : commands) {
        if (!command.app->parsed()) continue;
        std::string error;
        if (command.take_trailing) {
            if (!command.take_trailing(std::move(trailing), error)) {
                std::cerr << "tidemark: " << error << "\n";
                return kExitUsage;
            }
        } else if (parsed_argc != argc) {
            std::cerr << "tidemark: `tidemark " << command.app->get_name()
                      << "` takes no command after `--`; see `tidemark " << command.app->get_name()
                      << " --help`\n";
            return kExitUsage;
        }
        return command.run();
    }
    std::cerr << "tidemark: no command given; run `tidemark --help`\n";
    return kExitUsage;
}
