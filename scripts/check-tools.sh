#!/usr/bin/env bash
# Checks the system tools the product uses and installs them where root may, else says what to do.
set -euo pipefail
missing=()
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing system packages: ${missing[*]}"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "Missing system tools: ${missing[*]}. ffmpeg decodes M4A/AAC uploads;" \
       "install it with your package manager (for example: sudo apt-get install ffmpeg)." >&2
  echo "Everything else works without it; M4A/AAC uploads will be refused with a clear message." >&2
fi
