// Test helper: a throwaway PostgreSQL server of our own, for tests and
// benchmarks that need the real thing.
//
//   salvus::testutil::PostgresServer pg;
//   std::string url = pg.start();   // postgresql://postgres@127.0.0.1:PORT/salvus
//   ... OpenStore(url, ...) ...
//   pg.stop();                      // or let the destructor do it
//
// start() runs Debian's postgres (the newest /usr/lib/postgresql/N/bin, or
// $SALVUS_PG_BIN) on a free 127.0.0.1 port with its unix socket and data in
// a fresh /tmp/salvus-pg-XXXXXX, with fsync off, trust authentication, and
// an empty database "salvus". The cluster is copied from a template made by
// initdb once per machine (/tmp/salvus-pg-template-v2-*), so a start costs well
// under a second. As root it runs initdb/postgres as the `postgres` user
// (postgres refuses to run as root).
//
// Never leaves a server behind: stop() (also run by the destructor) sends
// SIGINT, waits up to 10 s, then SIGKILLs; and the server gets SIGKILL if
// the thread that called start() dies first (a crashed test), so call
// start() from a thread that lives as long as the server (e.g. the main
// thread, in SetUpTestSuite). Not thread-safe.
#pragma once

#include <sys/types.h>

#include <string>

namespace salvus::testutil {

class PostgresServer {
 public:
  PostgresServer() = default;
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // Starts the server (unless it runs) and returns the URL of the empty
  // database "salvus". Throws std::runtime_error, with the server's log,
  // if it cannot (no PostgreSQL installed, no `postgres` user as root, ...).
  std::string start();
  // Stops the server and removes its files. Does nothing if not running.
  void stop();

  // Crashes the server (SIGQUIT: an immediate shutdown) and starts it again
  // on the same port and data, as a machine's restart would. REQUIRES: running.
  void Restart();

  // Creates another empty database and returns its URL. REQUIRES: running.
  std::string CreateDatabase(const std::string& name);

  bool running() const { return pid_ > 0; }
  std::string url(const std::string& database = "salvus") const;
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }  // data in dir()/data
  std::string log() const;                         // what the server logged

 private:
  bool TryStart(std::string* error);  // on a free port
  bool Launch(std::string* error);    // on port_

  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// Where initdb and postgres live, or "" if PostgreSQL is not installed.
std::string PostgresBinDir();

}  // namespace salvus::testutil
