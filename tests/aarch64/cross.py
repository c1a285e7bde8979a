# SPDX-License-Identifier: Apache-2.0
"""The aarch64 tests' shared set-up: the tools they need, and libmodalloc
cross-built once into WORK_DIR/aarch64-cross (meson, cross-aarch64.txt)."""
import os
import shutil
import subprocess

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))


def build_lib(src, work):
    """Returns (build directory, path of the aarch64 libmodalloc.so), or None
    after a skip line when the cross compiler, qemu-aarch64 or meson is missing."""
    for tool in ("aarch64-linux-gnu-gcc", "qemu-aarch64", "meson", "ninja"):
        if not shutil.which(tool):
            print(f"skip: {tool} not installed (scripts/deps.sh test)")
            return None
    build = os.path.join(work, "aarch64-cross")
    if not os.path.exists(os.path.join(build, "build.ninja")):
        subprocess.run(["meson", "setup", build, src, "--cross-file", os.path.join(HERE, "cross-aarch64.txt"),
                        "-Dtests=disabled", "-Dbench=false"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["ninja", "-C", build, "src/libmodalloc.so"], check=True, stdout=subprocess.DEVNULL)
    return build, os.path.join(build, "src", "libmodalloc.so")
