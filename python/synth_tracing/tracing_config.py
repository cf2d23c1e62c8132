"""The original's ``tracing_config`` module name: the same module object as ``synth_tracing.config``."""

import sys as _sys

from . import config as _config

_sys.modules[__name__] = _config
