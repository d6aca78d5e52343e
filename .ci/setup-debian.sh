#!/usr/bin/env bash
# Installs the real peers the tests talk to (Linux tools we did not write). Idempotent.
set -euo pipefail
pkgs=(iproute2 iputils-ping arping socat dnsmasq-base tshark graphviz fdisk gdisk dosfstools mtools
      iperf3 hping3 curl wrk tar liblwip-dev ethtool openssl radvd nftables influxdb
      gcc g++ make python3)  # python3, make and a C/C++ toolchain: node-gyp builds the TAP addon
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
