// What a cell can reach on the network under `salvus up` as root, tried as
// an attacker would: the hub, the compute server, PostgreSQL and memcached
// (all real, on loopback). With the default isolation nothing answers; with
// --no-isolate-network the cell reaches loopback, and the compute server
// still serves nobody without the cluster token.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "client/hub_client.h"
#include "util/memcached_process.h"
#include "util/postgres_server.h"
#include "util/run_cell.h"
#include "util/up_process.h"

namespace salvus {
namespace {

using testutil::RunCell;
using testutil::UpProcess;

uint16_t ComputePort(const UpProcess& up) {
  return static_cast<uint16_t>(std::stoi(testutil::ReadFile(up.data() + "/compute.port")));
}

// Python that tries each (name, port) on 127.0.0.1 and prints one line per
// try: "NAME connected" or "NAME ErrorName".
std::string TryConnecting(const std::vector<std::pair<std::string, int>>& targets) {
  std::string list = "[";
  for (const auto& [name, port] : targets)
    list += "('" + name + "', " + std::to_string(port) + "), ";
  list += "]";
  return "import socket\n"
         "for name, port in " +
         list +
         ":\n"
         "    try:\n"
         "        socket.create_connection(('127.0.0.1', port), timeout=3).close()\n"
         "        print(name, 'connected')\n"
         "    except OSError as e:\n"
         "        print(name, type(e).__name__)\n";
}

TEST(UpNetwork, ACellReachesNoServiceOfTheCluster) {
  if (geteuid() != 0) GTEST_SKIP() << "network namespaces for sessions need root";
  testutil::PostgresServer pg;
  const std::string db = pg.start();
  testutil::MemcachedProcess mc;
  ASSERT_TRUE(mc.ok());
  UpProcess up({"--kernel", "python", "--db", db, "--memcached", mc.address()});
  ASSERT_TRUE(up.ok()) << up.log();
  EXPECT_NE(up.log().find("sessions have no network"), std::string::npos) << up.log();
  auto c = testutil::ConnectTo(up);
  ASSERT_NE(c, nullptr);
  const std::string out = RunCell(*c, TryConnecting({{"hub", up.port()},
                                                     {"compute", ComputePort(up)},
                                                     {"postgresql", pg.port()},
                                                     {"memcached", mc.port()}}) +
                                          "print(sorted(socket.if_nameindex()))\n");
  // Not refused (that would be a loopback that answers): no route at all;
  // the session's namespace has a loopback of its own and nothing else.
  EXPECT_EQ(out,
            "hub OSError\ncompute OSError\npostgresql OSError\nmemcached OSError\n"
            "[(1, 'lo')]\n");
  c->Close();
  EXPECT_EQ(up.Stop(), "");
}

TEST(UpNetwork, WithoutIsolationTheComputeServerStillRefusesACell) {
  if (geteuid() != 0) GTEST_SKIP() << "session uids need root";
  UpProcess up({"--kernel", "python", "--no-isolate-network"});
  ASSERT_TRUE(up.ok()) << up.log();
  auto c = testutil::ConnectTo(up);
  ASSERT_NE(c, nullptr);
  // A well-formed first frame that is not a hello (a Message with only
  // id = 1): refused with an answer, then closed.
  const std::string out = RunCell(*c,
                                  "import socket, struct\n"
                                  "s = socket.create_connection(('127.0.0.1', " +
                                      std::to_string(ComputePort(up)) +
                                      "), timeout=10)\n"
                                      "s.sendall(struct.pack('>I', 2) + b'\\x08\\x01')\n"
                                      "got = b''\n"
                                      "while True:\n"
                                      "    b = s.recv(4096)\n"
                                      "    if not b: break\n"
                                      "    got += b\n"
                                      "print('closed after', 'an answer' if got else 'nothing')\n");
  EXPECT_EQ(out, "closed after an answer\n");
  EXPECT_NE(up.log().find("refused: first message is not hello"), std::string::npos) << up.log();
  c->Close();
  EXPECT_EQ(up.Stop(), "");
}

}  // namespace
}  // namespace salvus
