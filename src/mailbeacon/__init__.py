"""mailbeacon: self-hosted email engagement tracking that tells the truth.

The Python API for apps that send mail themselves:

    from mailbeacon import instrument
    result = instrument(runtime, message, sender="alice@acme.test")

`instrument` is imported on first use, so `import mailbeacon` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .instrumentation import Instrumented as Instrumented
    from .instrumentation import instrument as instrument

__all__ = ["Instrumented", "instrument"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        import importlib

        value = getattr(importlib.import_module(".instrumentation", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mailbeacon' has no attribute {name!r}")
