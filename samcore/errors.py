"""The exceptions samcore raises: every one is a `SamcoreError`."""


class SamcoreError(Exception):
    """Base class of every error samcore raises on purpose."""


class InputError(SamcoreError, ValueError):
    """A prompt, embedding or mask has the wrong shape, range or value."""


class InputTypeError(SamcoreError, TypeError):
    """An argument has the wrong type or dtype."""


class WeightsError(SamcoreError, ValueError):
    """A weights file is missing keys, has unexpected keys, or wrong shapes/dtypes."""


class CheckpointFormatError(WeightsError):
    """A checkpoint file is truncated, corrupt, or not in a format samcore reads."""


class UnsafeCheckpointError(CheckpointFormatError):
    """A checkpoint asks to run code (a pickle global outside the allow-list)."""


class BackendError(SamcoreError, ValueError):
    """A requested backend is unknown or unavailable on this machine."""


class MissingExtraError(SamcoreError, ImportError):
    """An optional dependency (an extra of the distribution) is not installed."""


class ServiceResponseError(SamcoreError, RuntimeError):
    """The embedding service could not be reached or answered with an error (``status``, ``code``)."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code = status, code
