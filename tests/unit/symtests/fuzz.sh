#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builds the symbolizer/demangler libFuzzer targets with clang and runs each
# for SECONDS (default 60) on its seed corpus (copied, so the committed
# seeds stay small).  Usage: tests/unit/symtests/fuzz.sh [outdir] [seconds]
set -eu
top=$(cd "$(dirname "$0")/../../.." && pwd)
out=${1:-$top/build-fuzz}
secs=${2:-60}
mkdir -p "$out"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I$top/src"
clang $flags "$top/tests/fuzz/fuzz_demangle.c" "$top/src/demangle.c" "$top/src/os/linux.c" \
	-o "$out/fuzz_demangle"
clang $flags "$top/tests/fuzz/fuzz_elf.c" "$top/src/symbolize.c" "$top/src/demangle.c" \
	"$top/src/fmt.c" "$top/src/os/linux.c" -o "$out/fuzz_elf"
for t in demangle elf; do
	rm -rf "$out/corpus_$t"
	cp -r "$top/tests/fuzz/corpus/$t" "$out/corpus_$t"
	"$out/fuzz_$t" -max_total_time="$secs" -max_len=65536 -print_final_stats=1 \
		-artifact_prefix="$out/crash_$t-" "$out/corpus_$t" 2>&1 | tail -n 25 > "$out/fuzz_$t.log" || true
	echo "== fuzz_$t"; grep -E 'stat::number_of_executed_units|ERROR|SUMMARY|Done' "$out/fuzz_$t.log" || true
done
