#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Generate ./configure from configure.ac (needed in a git checkout only).
set -e
cd "$(dirname "$0")/.."
autoreconf -fi
