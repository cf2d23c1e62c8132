"""The package carries the project's one version number (CMakeLists.txt project(VERSION))."""

import re
from pathlib import Path

import synth_tracing


def test_package_version_is_the_projects():
    cmake = (Path(__file__).resolve().parents[2] / "CMakeLists.txt").read_text()
    version = re.search(r"project\(\s*synth_tracing\s+VERSION\s+([0-9.]+)", cmake).group(1)
    assert synth_tracing.__version__ == version
    assert synth_tracing._core.__version__ == version
