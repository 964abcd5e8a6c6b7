"""Errors raised by dsbuild, each with a searchable code, what went wrong, and the fix.

Library code raises these; only the CLI prints them (as one line) and exits, with the exit
code of the error's family::

    DsbuildError                 exit 1  a bug or an unexpected state (please report it)
    ├── UsageError               exit 2  a flag, setting or run directory cannot be used as given
    │   ├── ConfigError                  a configuration value or file is wrong
    │   ├── RunConflictError             the run directory holds another config or another live run
    │   └── NotAvailableError            the feature or stage exists in the plan but not yet here
    ├── InputError               exit 3  input data is malformed or invalid
    │   └── InvalidRecordsError          validation found invalid records (the report says which)
    ├── ServiceError             exit 4  an external service (LLM API, Label Studio, Hub) failed
    └── BudgetExceededError      exit 5  the cost budget (--max-cost) would be exceeded

Interrupted runs (Ctrl-C) exit 130; click's own usage errors exit 2.
Every code is listed in `CODES` (and in the README); a test keeps the two in step.
"""

from __future__ import annotations

__all__ = [
    "CODES",
    "EXIT_CODES",
    "BudgetExceededError",
    "ConfigError",
    "DsbuildError",
    "InputError",
    "InvalidRecordsError",
    "NotAvailableError",
    "RunConflictError",
    "ServiceError",
    "UsageError",
    "error_from_data",
    "error_to_data",
]

EXIT_CODES = {
    "ok": 0,
    "internal": 1,
    "usage": 2,
    "bad_input": 3,
    "external_service": 4,
    "budget": 5,
    "interrupted": 130,
}

# Every code dsbuild raises, with what it means. Grouped by hundreds:
# 1xx configuration and usage, 2xx runs, 3xx input data, 4xx external services, 5xx budget.
CODES: dict[str, str] = {
    "DSB100": "internal error (a bug): please report it with the command you ran",
    "DSB101": "configuration file not found or unreadable",
    "DSB102": "configuration file is not valid YAML or not a mapping",
    "DSB103": "configuration value has the wrong type or is out of range",
    "DSB104": "unknown configuration key",
    "DSB105": "unknown dataset or input format",
    "DSB106": "feature or stage not available yet in this version",
    "DSB107": "request not in the LLM cache while --cache-only forbids the network",
    "DSB108": "LLM cache file is damaged, locked or not writable",
    "DSB201": "run directory holds a run with a different configuration",
    "DSB202": "run directory is in use by another dsbuild process",
    "DSB203": "run directory is damaged (a checkpoint cannot be read)",
    "DSB204": "run directory does not exist or is not a run",
    "DSB205": "a stage raised an error",
    "DSB301": "input file not found or unreadable",
    "DSB302": "input file format not recognised",
    "DSB303": "input file holds invalid records",
    "DSB304": "input file is empty",
    "DSB401": "external service failed",
    "DSB402": "records left pending after failures of an external service; run again to retry them",
    "DSB403": "an endpoint failed every request the same way; the run stopped early",
    "DSB501": "cost budget would be exceeded",
}


class DsbuildError(Exception):
    """Base class: raised for unexpected states; `what` says what happened, `fix` what to do."""

    exit_code = EXIT_CODES["internal"]
    default_code = "DSB100"

    def __init__(self, what: str, fix: str | None = None, *, code: str | None = None) -> None:
        self.code = code or self.default_code
        if self.code not in CODES:
            raise ValueError(f"undocumented error code {self.code}")
        self.what = what.rstrip(".")
        self.fix = fix.rstrip(".") if fix else None
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The message as the CLI prints it: code, what went wrong, and the fix, on one line."""
        text = f"{self.code}: {self.what}"
        if self.fix:
            text += f"; fix: {self.fix}"
        return " ".join(text.split())


class UsageError(DsbuildError):
    """A flag, setting or run directory cannot be used as given."""

    exit_code = EXIT_CODES["usage"]
    default_code = "DSB103"


class ConfigError(UsageError):
    """A configuration value or file is wrong (the message names the key or file)."""


class RunConflictError(UsageError):
    """The run directory holds another configuration, or another process is using it."""

    default_code = "DSB201"


class NotAvailableError(UsageError):
    """A planned feature or builder stage that this version does not have yet."""

    default_code = "DSB106"


class InputError(DsbuildError):
    """Input data is missing, unreadable or malformed (the message names the file/record)."""

    exit_code = EXIT_CODES["bad_input"]
    default_code = "DSB301"


class InvalidRecordsError(InputError):
    """Validation found invalid records; the report has already been printed."""

    default_code = "DSB303"


class ServiceError(DsbuildError):
    """An external service (LLM endpoint, Label Studio, Hugging Face Hub) failed for good."""

    exit_code = EXIT_CODES["external_service"]
    default_code = "DSB401"


class BudgetExceededError(DsbuildError):
    """The next request would take the run over its cost budget; nothing was lost."""

    exit_code = EXIT_CODES["budget"]
    default_code = "DSB501"


def error_to_data(error: DsbuildError) -> list:
    """`error` as plain data, to cross a process boundary (a subclass with its own
    constructor may not unpickle); `error_from_data` raises it again."""
    return [type(error).__name__, error.what, error.fix, error.code]


def error_from_data(data: list) -> DsbuildError:
    """The error `error_to_data` described: the same class when it takes (what, fix, code)."""
    name, what, fix, code = data
    cls = globals().get(name)
    if not (isinstance(cls, type) and issubclass(cls, DsbuildError)):
        cls = DsbuildError
    try:
        return cls(what, fix, code=code)
    except TypeError:
        return DsbuildError(what, fix, code=code)
