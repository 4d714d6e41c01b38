// attach_target tests: where SIGUSR1 opens a node process's inspector, read from its options
// (command line up to the script, NODE_OPTIONS) — attach waits for that port when another process
// holds it, so a wrong answer makes it wait for the wrong port.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "attach_target.h"

using tidemark::agent::node_inspector_port;

TEST_CASE("the inspector's port is 9229 unless node's options say otherwise", "[attach]") {
    CHECK(node_inspector_port({"node", "server.js"}, "") == 9229);
    CHECK(node_inspector_port({"node", "--max-old-space-size=512", "server.js", "--inspect-port=1"}, "") == 9229);
    CHECK(node_inspector_port({"node", "-e", "--inspect-port=5", "x"}, "") == 9229);
    CHECK(node_inspector_port({"node", "server.js"}, "", 7000) == 7000);
}

TEST_CASE("the port comes from --inspect-port, --debug-port or --inspect=HOST:PORT, and the last one wins",
          "[attach]") {
    CHECK(node_inspector_port({"node", "--inspect-port=9300", "server.js"}, "") == 9300);
    CHECK(node_inspector_port({"node", "--inspect-port", "9301", "server.js"}, "") == 9301);
    CHECK(node_inspector_port({"node", "--debug-port=9302", "server.js"}, "") == 9302);
    CHECK(node_inspector_port({"node", "--inspect=127.0.0.1:9303", "server.js"}, "") == 9303);
    CHECK(node_inspector_port({"node", "--inspect=9304", "server.js"}, "") == 9304);
    CHECK(node_inspector_port({"node", "--inspect-port=9305", "--inspect-port=9306", "a.js"}, "") == 9306);
    CHECK(node_inspector_port({"node", "--inspect-port=0", "a.js"}, "") == 0);
    CHECK(node_inspector_port({"node", "--inspect-port=notaport", "a.js"}, "") == 9229);
    CHECK(node_inspector_port({"node", "--inspect-port=70000", "a.js"}, "") == 9229);
}

TEST_CASE("NODE_OPTIONS gives the port and the command line overrides it", "[attach]") {
    CHECK(node_inspector_port({"node", "a.js"}, "--max-old-space-size=64 --inspect-port=9400") == 9400);
    CHECK(node_inspector_port({"node", "a.js"}, "--inspect-port 9401") == 9401);
    CHECK(node_inspector_port({"node", "--inspect-port=9402", "a.js"}, "--inspect-port=9403") == 9402);
    CHECK(node_inspector_port({"node", "-r", "./x.js", "a.js"}, "") == 9229);
}
