"""pytest plugin of the conformance kit (registered as a ``pytest11`` entry point).

Adds ``--samcore-backend NAME`` (repeatable; default: every registered backend)
and ``--samcore-xfail FILE`` (a port's own list of checks it is known to fail, one
test id fragment per line, ``#`` comments), and parametrizes the
``samcore_backend`` fixture. A backend whose runtime is unavailable is skipped
with the reason.
"""

from __future__ import annotations

import pathlib

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("samcore", "samcore conformance kit")
    group.addoption("--samcore-backend", action="append", default=[], metavar="NAME",
                    help="backend to check (repeatable); default: every registered backend")
    group.addoption("--samcore-xfail", metavar="FILE", help="file of test id fragments expected to fail")


def _param(name: str, registry=None):
    """``name`` as a parameter, skipped with the reason when unusable here (default
    registry: the decoders')."""
    from samcore.errors import BackendError
    from samcore.registry import BACKENDS

    try:
        availability = (registry or BACKENDS).get(name).availability()
    except BackendError as exc:
        return pytest.param(name, marks=pytest.mark.skip(reason=str(exc)), id=name)
    if not availability.available:
        return pytest.param(name, marks=pytest.mark.skip(reason=f"{name} unavailable: {availability.reason}"), id=name)
    return pytest.param(name, id=name)


def _lower_precisions(name: str) -> list[str]:
    from samcore.errors import BackendError
    from samcore.registry import get

    try:
        return [d for d in get(name).dtypes if d != "float32"]
    except BackendError:
        return []


def _parametrize_encoders(metafunc: pytest.Metafunc) -> None:
    """``samcore_encoder_backend``: each chosen backend that has an image encoder; with
    ``samcore_encoder_dtype`` too: each (backend, dtype) pair besides float32."""
    from samcore.registry import ENCODERS

    registered = ENCODERS.registered()
    chosen = metafunc.config.getoption("samcore_backend") or sorted(registered)
    params = [_param(name, ENCODERS) for name in chosen if name in registered]
    if "samcore_encoder_dtype" in metafunc.fixturenames:
        pairs = [(p, d) for p in params if not isinstance(registered[p.values[0]], str)
                 for d in registered[p.values[0]].dtypes if d != "float32"]
        metafunc.parametrize(
            ["samcore_encoder_backend", "samcore_encoder_dtype"],
            [pytest.param(p.values[0], d, marks=p.marks, id=f"{p.id}-{d}") for p, d in pairs],
        )
    else:
        metafunc.parametrize("samcore_encoder_backend", params)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``samcore_backend``: each chosen backend; with ``samcore_dtype`` too: each
    (backend, dtype) pair for the dtypes besides float32 that the backend declares.
    ``samcore_encoder_backend`` (and ``samcore_encoder_dtype``): the same for image encoders."""
    if "samcore_encoder_backend" in metafunc.fixturenames:
        _parametrize_encoders(metafunc)
    if "samcore_backend" not in metafunc.fixturenames:
        return
    from samcore.registry import registered

    names = metafunc.config.getoption("samcore_backend") or sorted(registered())
    if "samcore_dtype" in metafunc.fixturenames:
        pairs = [(p, d) for p in map(_param, names) for d in _lower_precisions(p.values[0])]
        metafunc.parametrize(
            ["samcore_backend", "samcore_dtype"],
            [pytest.param(p.values[0], d, marks=p.marks, id=f"{p.id}-{d}") for p, d in pairs],
        )
    else:
        metafunc.parametrize("samcore_backend", [_param(n) for n in names])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    path = config.getoption("samcore_xfail")
    if not path:
        return
    lines = (line.split("#")[0].strip() for line in pathlib.Path(path).read_text().splitlines())
    fragments = [line for line in lines if line]
    for item in items:
        if any(fragment in item.nodeid for fragment in fragments):
            item.add_marker(pytest.mark.xfail(reason=f"listed in {path}", strict=True))
