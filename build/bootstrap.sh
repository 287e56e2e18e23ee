#!/bin/sh
# Generate ./configure from configure.ac (needed in a git checkout only).
set -e
cd "$(dirname "$0")/.."
autoreconf -fi
