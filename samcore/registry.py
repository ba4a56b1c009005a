"""Backend and exporter registry: plugins found through the ``samcore.backends`` and
``samcore.exporters`` entry points.

First-party backends and exporters (``backends/``) register exactly as a third party's
would, in their distribution's ``pyproject.toml``::

    [project.entry-points."samcore.backends"]
    mine = "my_package:MyBackend"

    [project.entry-points."samcore.exporters"]
    mine = "my_package:MyExporter"

Registration (the name is known) is separate from availability (the runtime
imports and works here): ``list_backends`` shows both.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from importlib.metadata import entry_points

from samcore.backend import Availability, Backend
from samcore.errors import BackendError
from samcore.exporter import Exporter

ENTRY_POINT_GROUP = "samcore.backends"
EXPORTER_GROUP = "samcore.exporters"
#: Device kinds, best first, tried when a backend is chosen without a device.
DEVICE_PREFERENCE = ("cuda", "mps", "cpu")


@functools.cache
def _plugins(group: str, base: type) -> dict[str, type | str]:
    """name -> class (a ``base`` subclass) of each entry point in ``group``, or the reason
    its plugin failed to load."""
    found: dict[str, type | str] = {}
    for ep in entry_points(group=group):
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plugin must not break the others
            found[ep.name] = f"plugin {ep.value!r} failed to load: {exc!r}"
            continue
        if not (isinstance(cls, type) and issubclass(cls, base)):
            found[ep.name] = f"plugin {ep.value!r} is not a {base.__module__}.{base.__name__} subclass"
            continue
        found[cls.name] = cls
    return found


def _entry_point_backends() -> dict[str, type[Backend] | str]:
    """name -> Backend class, or the reason its plugin failed to load."""
    return _plugins(ENTRY_POINT_GROUP, Backend)


def exporters() -> dict[str, type[Exporter] | str]:
    """Every registered exporter: format name -> class (or why its plugin could not load)."""
    return _plugins(EXPORTER_GROUP, Exporter)


def exporter_for(path: str) -> type[Exporter]:
    """The exporter whose files end like ``path`` (``Exporter.suffix``)."""
    usable = {name: cls for name, cls in exporters().items() if not isinstance(cls, str)}
    for cls in usable.values():
        if str(path).endswith(cls.suffix):
            return cls
    raise BackendError(
        f"file: expected a name ending in one of {sorted(c.suffix for c in usable.values())} "
        f"(the registered exporters' files), got {str(path)!r}"
    )


_extra: dict[str, type[Backend]] = {}


def register(cls: type[Backend]) -> type[Backend]:
    """Register a backend class in this process (entry points are the usual way)."""
    _extra[cls.name] = cls
    return cls


def registered() -> dict[str, type[Backend] | str]:
    """Every registered backend: name -> class (or why its plugin could not load)."""
    return _entry_point_backends() | _extra


def get(name: str) -> type[Backend]:
    """The backend class registered as ``name`` or with ``name`` as an alias."""
    for key, cls in registered().items():
        if isinstance(cls, str):
            if key == name:
                raise BackendError(f"backend {name!r} is registered but unusable: {cls}")
            continue
        if name == cls.name or name in cls.aliases:
            return cls
    raise BackendError(f"backend: unknown name {name!r}; registered: {sorted(registered())}")


@dataclasses.dataclass(frozen=True)
class BackendInfo:
    """One row of ``samcore backends``."""

    name: str
    aliases: tuple[str, ...]
    availability: Availability
    dtypes: tuple[str, ...]
    auto_priority: int


def list_backends() -> list[BackendInfo]:
    """Every registered backend with its availability, in ``auto`` preference order."""
    rows = []
    for key, cls in registered().items():
        if isinstance(cls, str):
            rows.append(BackendInfo(key, (), Availability(False, cls), (), -1))
            continue
        try:
            availability = cls.availability()
        except Exception as exc:  # availability must never raise; report it if it does
            availability = Availability(False, f"availability check failed: {exc!r}")
        rows.append(BackendInfo(cls.name, cls.aliases, availability, cls.dtypes, cls.auto_priority))
    return sorted(rows, key=lambda r: -r.auto_priority)


def _fits(cls: type[Backend], device: str | None, dtype: str) -> tuple[str | None, str]:
    """(device to use, or None with the reason it does not fit)."""
    availability = cls.availability()
    if not availability.available:
        return None, f"{cls.name}: unavailable ({availability.reason})"
    if dtype not in cls.dtypes:
        return None, f"{cls.name}: no dtype {dtype} (has {list(cls.dtypes)})"
    devices = [d for d in DEVICE_PREFERENCE if d in availability.devices] + [
        d for d in availability.devices if d not in DEVICE_PREFERENCE
    ]
    if device is None:
        return devices[0], ""
    if device.split(":")[0] in devices:
        return device, ""
    return None, f"{cls.name}: no device {device} (has {devices})"


def resolve(backend: str | Sequence[str], device: str | None, dtype: str) -> tuple[type[Backend], str]:
    """The first backend (and its device) that fits a request.

    ``backend`` is a name, ``"auto"`` (every available backend by ``auto_priority``),
    or a preference list of names. ``device`` None means the backend's best device.
    """
    if isinstance(backend, str):
        names = [r.name for r in list_backends() if r.auto_priority >= 0] if backend == "auto" else [backend]
    else:
        names = list(backend)
    reasons = []
    for name in names:
        cls = get(name)
        chosen, reason = _fits(cls, device, dtype)
        if chosen is not None:
            return cls, chosen
        reasons.append(reason)
    available = [r.name for r in list_backends() if r.availability.available]
    raise BackendError(
        f"backend: no backend fits backend={backend!r}, device={device!r}, dtype={dtype!r}: "
        f"{'; '.join(reasons)}. Available backends: {available}"
    )
