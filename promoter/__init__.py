"""promoter: promote container images into GitOps manifest repositories.

The public library API is re-exported lazily so that ``import promoter`` (and
therefore ``promoter --help``) stays fast: heavy modules load on first use.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time (~3 ms)
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "set_image": ("promoter.setimage", "set_image"),
    "validate": ("promoter.validate.api", "validate"),
    "promote": ("promoter.promote", "promote"),
}

__all__ = ["__version__", "promote", "set_image", "validate"]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'promoter' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(target[0])
    value = getattr(module, target[1])
    globals()[name] = value
    return value
