"""Training options: one table of bounds, one dataclass validated against it.

`TRAINING_OPTIONS` is the one home of each option's type, bounds, default and help. The service
validates with it (`TrainingOptions.from_params`); the admin form, the API serializer and
`manage.py train` build their fields from it, so an entry point never disagrees with the service.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from core.errors import StarlingError
from core.values import parse_yes_no
from ml.architectures import ARCHITECTURE_SPECS, DEFAULT_ARCHITECTURE

ARCHITECTURES: tuple[str, ...] = tuple(ARCHITECTURE_SPECS)


class TrainingOptionsError(StarlingError):
    """An option of a training run is unknown, of the wrong type or out of range."""

    code = "invalid_options"


@dataclass(frozen=True)
class Option:
    """One training option: its type, bounds (inclusive), default and the help every entry point shows."""

    kind: type
    default: object
    help: str
    minimum: int | float | None = None
    maximum: int | float | None = None
    max_length: int | None = None
    choices: tuple[str, ...] | None = None


TRAINING_OPTIONS: dict[str, Option] = {
    "architecture": Option(str, DEFAULT_ARCHITECTURE, "The network to train.", choices=ARCHITECTURES),
    "epochs": Option(int, 0, "Maximum epochs; 0: the architecture's default.", 0, 500),
    "batch_size": Option(int, 0, "Texts per step; 0: the architecture's default.", 0, 4096),
    "learning_rate": Option(float, 0.0, "Step size; 0: the architecture's default.", 0.0, 1.0),
    "seed": Option(int, 1234, "Same seed, same data: the same model.", 0, 2**31 - 1),
    "patience": Option(int, 3, "Stop after this many epochs without a better validation macro-F1.", 1, 100),
    "language": Option(
        str, "en", "Train on reviews in this language code (and those with none); empty: every language.", max_length=16
    ),
    "include_user_reviews": Option(
        bool, False, "Add visitors' reviews whose rating they picked themselves (not accepted suggestions)."
    ),
    "snapshot": Option(
        str, "", "Train on this frozen dataset snapshot (its name); empty: the current dataset.", max_length=100
    ),
    "activate": Option(bool, False, "Serve the new model when training succeeds."),
    "max_rows": Option(int, 0, "Use at most this many reviews; 0: all of them.", 0, 10**8),
}


def _bound(value: int | float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _typed(kind: type, value: object, name: str) -> object:
    """`value` as `kind`: a bool from yes/no words, an int from a whole number, a float, or a stripped str."""
    try:
        if kind is bool:
            typed = parse_yes_no(value)
            if typed is None:
                raise ValueError
            return typed
        if isinstance(value, bool) and kind in (int, float):
            raise ValueError
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError
        return str(value).strip() if kind is str else kind(value)
    except (TypeError, ValueError, OverflowError):
        raise TrainingOptionsError(
            f"Training option {name}={value!r} is not a valid {kind.__name__}.", field=name
        ) from None


def option_value(name: str, value: object) -> object:
    """`value` as option `name`'s type, checked against its bounds; raise TrainingOptionsError if it is not."""
    option = TRAINING_OPTIONS[name]
    value = _typed(option.kind, value, name)
    if option.choices is not None and value not in option.choices:
        raise TrainingOptionsError(f"Unknown {name} {value!r}; choose one of: {', '.join(option.choices)}.", field=name)
    if option.minimum is not None and option.maximum is not None and not option.minimum <= value <= option.maximum:
        raise TrainingOptionsError(
            f"Training option {name}={value} must be between {_bound(option.minimum)} and {_bound(option.maximum)}.",
            field=name,
        )
    if option.max_length is not None and len(value) > option.max_length:
        raise TrainingOptionsError(
            f"Training option {name}={value!r} is longer than {option.max_length} characters. {option.help}",
            field=name,
        )
    return value


def _default(name: str):
    return TRAINING_OPTIONS[name].default


@dataclass(frozen=True)
class TrainingOptions:
    """What a training run was asked to do (stored as `TrainingRun.params`); fields as in TRAINING_OPTIONS."""

    architecture: str = _default("architecture")
    epochs: int = _default("epochs")
    batch_size: int = _default("batch_size")
    learning_rate: float = _default("learning_rate")
    seed: int = _default("seed")
    patience: int = _default("patience")
    language: str = _default("language")
    include_user_reviews: bool = _default("include_user_reviews")
    snapshot: str = _default("snapshot")
    activate: bool = _default("activate")
    max_rows: int = _default("max_rows")

    @classmethod
    def from_params(cls, params: dict | None) -> TrainingOptions:
        """Validate a plain dict (JSON from a form or the API); unknown keys and bad values raise."""
        params = dict(params or {})
        unknown = sorted(set(params) - set(TRAINING_OPTIONS))
        if unknown:
            raise TrainingOptionsError(
                f"Unknown training option(s): {', '.join(unknown)}. Known: {', '.join(TRAINING_OPTIONS)}."
            )
        return cls(**{name: option_value(name, value) for name, value in params.items() if value is not None})

    def to_params(self) -> dict:
        """A plain dict, ready for a JSON field."""
        return asdict(self)


if {f.name for f in fields(TrainingOptions)} != set(TRAINING_OPTIONS):  # pragma: no cover - a typo guard
    raise RuntimeError("TrainingOptions and TRAINING_OPTIONS must name the same options.")
