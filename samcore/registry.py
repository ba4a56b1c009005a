"""Backend registries: plugins found through entry points, decoders and image encoders apart.

First-party backends (``backends/``) register exactly as a third party's would, in
their distribution's ``pyproject.toml``::

    [project.entry-points."samcore.backends"]     # prompt encoder + mask decoder
    mine = "my_package:MyBackend"

    [project.entry-points."samcore.encoders"]     # image encoder (optional)
    mine = "my_package:MyEncoder"

A name registered under ``samcore.backends`` but not ``samcore.encoders`` is a
decoder-only port. Registration (the name is known) is separate from availability
(the runtime imports and works here): ``list_backends`` shows both.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from samcore.backend import Availability, Backend
from samcore.encoder_backend import EncoderBackend
from samcore.errors import BackendError

ENTRY_POINT_GROUP = "samcore.backends"
ENCODER_ENTRY_POINT_GROUP = "samcore.encoders"
#: Device kinds, best first, tried when a backend is chosen without a device.
DEVICE_PREFERENCE = ("cuda", "mps", "cpu")

B = TypeVar("B", Backend, EncoderBackend)


@dataclasses.dataclass(frozen=True)
class BackendInfo:
    """One row of ``samcore backends``."""

    name: str
    aliases: tuple[str, ...]
    availability: Availability
    dtypes: tuple[str, ...]
    auto_priority: int


class Registry(Generic[B]):
    """The backends of one entry point group, all subclasses of ``base``."""

    def __init__(self, group: str, base: type[B], what: str) -> None:
        """``what`` names the kind in messages ("backend", "encoder backend")."""
        self.group, self.base, self.what = group, base, what
        self._extra: dict[str, type[B]] = {}

    @functools.cached_property
    def _entry_points(self) -> dict[str, type[B] | str]:
        """name -> class, or the reason its plugin failed to load."""
        found: dict[str, type[B] | str] = {}
        for ep in entry_points(group=self.group):
            try:
                cls = ep.load()
            except Exception as exc:  # a broken plugin must not break the others
                found[ep.name] = f"plugin {ep.value!r} failed to load: {exc!r}"
                continue
            if not (isinstance(cls, type) and issubclass(cls, self.base)):
                found[ep.name] = f"plugin {ep.value!r} is not a {self.base.__module__}.{self.base.__name__} subclass"
                continue
            found[cls.name] = cls
        return found

    def register(self, cls: type[B]) -> type[B]:
        """Register a backend class in this process (entry points are the usual way)."""
        self._extra[cls.name] = cls
        return cls

    def registered(self) -> dict[str, type[B] | str]:
        """Every registered backend: name -> class (or why its plugin could not load)."""
        return self._entry_points | self._extra

    def get(self, name: str) -> type[B]:
        """The backend class registered as ``name`` or with ``name`` as an alias."""
        for key, cls in self.registered().items():
            if isinstance(cls, str):
                if key == name:
                    raise BackendError(f"{self.what} {name!r} is registered but unusable: {cls}")
                continue
            if name == cls.name or name in cls.aliases:
                return cls
        raise BackendError(f"{self.what}: unknown name {name!r}; registered: {sorted(self.registered())}")

    def list(self) -> list[BackendInfo]:
        """Every registered backend with its availability, in ``auto`` preference order."""
        rows = []
        for key, cls in self.registered().items():
            if isinstance(cls, str):
                rows.append(BackendInfo(key, (), Availability(False, cls), (), -1))
                continue
            try:
                availability = cls.availability()
            except Exception as exc:  # availability must never raise; report it if it does
                availability = Availability(False, f"availability check failed: {exc!r}")
            rows.append(BackendInfo(cls.name, cls.aliases, availability, cls.dtypes, cls.auto_priority))
        return sorted(rows, key=lambda r: -r.auto_priority)

    def resolve(self, backend: str | Sequence[str], device: str | None, dtype: str) -> tuple[type[B], str]:
        """The first backend (and its device) that fits a request.

        ``backend`` is a name, ``"auto"`` (every available backend by ``auto_priority``),
        or a preference list of names. ``device`` None means the backend's best device.
        """
        if isinstance(backend, str):
            names = [r.name for r in self.list() if r.auto_priority >= 0] if backend == "auto" else [backend]
        else:
            names = list(backend)
        reasons = []
        for name in names:
            cls = self.get(name)
            chosen, reason = _fits(cls, device, dtype)
            if chosen is not None:
                return cls, chosen
            reasons.append(reason)
        available = [r.name for r in self.list() if r.availability.available]
        raise BackendError(
            f"{self.what}: no {self.what} fits backend={backend!r}, device={device!r}, dtype={dtype!r}: "
            f"{'; '.join(reasons)}. Available {self.what}s: {available}"
        )


def _fits(cls: type[Backend] | type[EncoderBackend], device: str | None, dtype: str) -> tuple[str | None, str]:
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


#: Prompt encoder + mask decoder ports (``samcore.backends``).
BACKENDS: Registry[Backend] = Registry(ENTRY_POINT_GROUP, Backend, "backend")
#: Image encoder ports (``samcore.encoders``).
ENCODERS: Registry[EncoderBackend] = Registry(ENCODER_ENTRY_POINT_GROUP, EncoderBackend, "encoder backend")

# The decoder registry's functions under their original names.
register = BACKENDS.register
registered = BACKENDS.registered
get = BACKENDS.get
list_backends = BACKENDS.list
resolve = BACKENDS.resolve
