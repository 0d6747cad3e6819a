#!/usr/bin/env bash
# Installs the Debian 12 packages Salvus needs, if any is missing. The one
# list of dependencies: add new ones here, nowhere else.
set -euo pipefail

PACKAGES=(
  # build
  cmake ninja-build g++ pkg-config make
  # format check (make test) and make lint
  clang-format clang-tidy-19
  # make fuzz: clang 19 with libFuzzer and the sanitizers' runtimes
  clang-19 libclang-rt-19-dev
  # libraries
  libboost-dev libboost-system-dev libssl-dev
  libprotobuf-dev protobuf-compiler
  libspdlog-dev libfmt-dev libcli11-dev
  pybind11-dev libpython3.11-dev
  libsodium-dev libsqlite3-dev libpq-dev libmemcached-dev
  # the vault's mail (SMTP)
  libcurl4-openssl-dev
  # the cluster file (salvus admin)
  libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # the math
  sagemath python3-ipywidgets
  # the web client and its browser tests
  nodejs chromium
  # tests and tools
  procps iproute2 openssl curl
  # man pages (help2man) and the .deb (cpack: dpkg-shlibdeps)
  help2man dpkg-dev
  # services the tests start for real
  postgresql memcached haproxy
  # the haproxies' floating address (salvus admin)
  keepalived
  # the cluster's two networks and their firewall (salvus admin)
  wireguard-go wireguard-tools nftables
  # a real Prometheus scrapes the figures (tests)
  prometheus
  # an SMTP sink receives the vault's mail (tests)
  python3-aiosmtpd
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# npm: Debian ships it apart from nodejs; other node builds bundle it.
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "installing: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
