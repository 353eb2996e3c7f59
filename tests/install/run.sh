#!/usr/bin/env bash
# Install the build into a temporary prefix, move the prefix (the package must be relocatable),
# then build a consumer as C and C++ through the CMake package and through pkg-config.
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/first" >/dev/null
mv "$tmp/first" "$tmp/prefix"
prefix=$tmp/prefix
libdir=$(dirname "$(find "$prefix" -name 'libecrup.so' | head -1)")

# Only ecrup_* symbols are exported.
bad=$(nm -D --defined-only "$libdir/libecrup.so" | awk '$2 ~ /[TDBR]/ {print $3}' | grep -v '^ecrup_' || true)
if [ -n "$bad" ]; then
    echo "symbols exported beyond ecrup_*:"; echo "$bad" | head; exit 1
fi

cmake -S "$src" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/cmake-build" >/dev/null
for exe in consumer_c consumer_cxx consumer_static; do
    LD_LIBRARY_PATH="$libdir" "$tmp/cmake-build/$exe"
done

export PKG_CONFIG_PATH="$libdir/pkgconfig"
grep -q 'pcfiledir' "$libdir/pkgconfig/ecrup.pc"
cc -std=c11 -Wall -Werror "$src/consumer.c" $(pkg-config --cflags --libs ecrup) -o "$tmp/pc_c"
c++ -std=c++17 -Wall -Werror "$src/consumer.cpp" $(pkg-config --cflags --libs ecrup) -o "$tmp/pc_cxx"
LD_LIBRARY_PATH="$libdir" "$tmp/pc_c"
LD_LIBRARY_PATH="$libdir" "$tmp/pc_cxx"
echo "install consumer: 5 consumers built and ran (CMake C/C++/static, pkg-config C/C++)"
