// Where `salvus up` puts its sessions and its data: a block of session uids
// no one else on the machine uses, homes that session uids can reach, and a
// data folder whose database, logs and token only its owner reads.
#pragma once

#include <expected>
#include <string>

namespace salvus::cli {

// As root without --uid-base: the first block of `size` uids among `first`,
// `first` + `size`, ... (`blocks` of them) that no process runs with and no
// other `salvus up` holds (a lock on /run/salvus-up-uids-BASE.lock, kept
// until this process exits). An error when every block is taken.
std::expected<unsigned, std::string> PickUidBlock(unsigned first, unsigned size, unsigned blocks);

struct SessionHomes {
  std::string state_dir;  // the compute server's --state-dir
  bool own = false;       // made for this run (outside `data`): removed at exit
};

// `data`/compute when session uids can pass through every folder above
// `data`; otherwise, as root, a fresh root-owned 0711 folder
// /var/lib/salvus/up-XXXXXX; an error (saying which folder is closed) when
// neither works. Decided at startup, so no cell ever fails for it.
std::expected<SessionHomes, std::string> PlaceSessionHomes(const std::string& data, bool root);

// `data` 0711 when session homes are inside it (session uids pass through),
// 0700 otherwise; every file directly in it (database, logs, ports, token)
// 0600, also those an older version left readable.
std::expected<void, std::string> MakeDataPrivate(const std::string& data, bool homes_inside);

}  // namespace salvus::cli
