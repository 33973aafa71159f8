"""Exception hierarchy for Shuibao.

Every user-facing error names the file, key or value at fault and what was
expected. The workflow prints the message without a traceback for these.
"""

from __future__ import annotations


class ShuibaoError(RuntimeError):
    """Base class of every error Shuibao raises on purpose."""


class ConfigError(ShuibaoError):
    """A configuration key has a missing, mistyped or out-of-range value."""


class InputDataError(ShuibaoError):
    """An input file or array has bad content (values, codes, units, missing file)."""


class GridError(InputDataError):
    """Arrays or files do not share the analysis grid, or a CRS is missing/unsuitable."""


class SourceError(ShuibaoError):
    """A remote data source (Earth Engine, STAC) failed or returned unusable data."""


class AuthenticationError(SourceError):
    """Credentials for a remote data source are missing or were refused."""


class QuotaError(SourceError):
    """A remote data source refused a request because a quota or rate limit was hit."""
