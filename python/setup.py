"""Builds synth_tracing._core with the repository's CMake project (target synth_tracing_python)
and puts it, with the libduckdb.so it links, into the package. Needs the repository around this
folder (pip builds local folders in place) and scripts/setup.sh's packages; no network."""

import glob
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def project_version():
    """The project's one version number: CMakeLists.txt project(... VERSION x.y.z)."""
    text = (ROOT / "CMakeLists.txt").read_text()
    found = re.search(r"project\(\s*synth_tracing\s+VERSION\s+([0-9][0-9.]*)", text)
    if not found:
        raise RuntimeError(f"no project(synth_tracing VERSION ...) in {ROOT / 'CMakeLists.txt'}")
    return found.group(1)


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        os.environ.setdefault("CCACHE_BASEDIR", str(ROOT))  # reuse the objects of other builds
        build_dir = Path(os.environ.get("SYNTH_TRACING_PY_BUILD_DIR", ROOT / "build-python"))
        subprocess.check_call([
            "cmake", "-S", str(ROOT), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
            f"-DPython3_EXECUTABLE={sys.executable}", "-DSYNTH_TRACING_BUILD_PYTHON=ON",
            "-DSYNTH_TRACING_BUILD_TESTS=OFF", "-DSYNTH_TRACING_BUILD_BENCHMARKS=OFF",
            "-DSYNTH_TRACING_BUILD_EXAMPLES=OFF",
            # The installed extension finds libduckdb.so beside itself ($ORIGIN).
            "-DCMAKE_BUILD_WITH_INSTALL_RPATH=ON"])
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
        subprocess.check_call(["cmake", "--build", str(build_dir), "--target", "synth_tracing_python", "-j", jobs])
        target = Path(self.get_ext_fullpath(ext.name)).parent
        target.mkdir(parents=True, exist_ok=True)
        built = glob.glob(str(build_dir / "python" / "synth_tracing" / "_core*.so"))
        if not built:
            raise RuntimeError(f"the CMake build made no _core extension in {build_dir}/python/synth_tracing")
        shutil.copy2(built[0], Path(self.get_ext_fullpath(ext.name)))
        for lib in glob.glob(str(ROOT / "third_party" / "duckdb" / "lib" / "libduckdb.so*")):
            shutil.copy2(lib, target)


setup(version=project_version(), ext_modules=[Extension("synth_tracing._core", sources=[])], cmdclass={"build_ext": CMakeBuild})
