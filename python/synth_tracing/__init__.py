"""synth_tracing: the synth-ai v2 tracing API (sessions, timesteps, events, messages, decorators,
DuckDB storage) on synth-tracing's C++ core.

Code written for ``synth_ai.tracing_v2`` runs after changing its imports:
``synth_ai.tracing_v2.session_tracer`` -> ``synth_tracing.session_tracer`` and so on.
"""

import pkgutil as _pkgutil

# A build tree holds the compiled extension (_core) in <build>/python/synth_tracing/, apart from
# these sources: with both folders on sys.path the package spans them.
__path__ = _pkgutil.extend_path(__path__, __name__)

from . import _core  # noqa: E402  (the extension; its absence is a build problem, reported as is)

__version__ = _core.__version__  # CMakeLists.txt project(VERSION), as in C++

__all__ = ["_core", "__version__"]
