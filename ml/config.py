"""Training options: one dataclass, validated once, shared by the admin form, the API and `manage.py train`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

ARCHITECTURES: tuple[str, ...] = ("fasttext", "charcnn", "cnn")
DEFAULT_ARCHITECTURE = "fasttext"


class TrainingOptionsError(ValueError):
    """An option of a training run is missing or out of range."""


@dataclass(frozen=True)
class TrainingOptions:
    """What a training run was asked to do (stored as `TrainingRun.params`)."""

    architecture: str = DEFAULT_ARCHITECTURE
    epochs: int = 0  # 0: the architecture's own default
    batch_size: int = 0  # 0: the architecture's own default
    learning_rate: float = 0.0  # 0: the architecture's own default
    seed: int = 1234
    patience: int = 3
    language: str = "en"  # "" keeps every language; rows with no language are always kept
    include_user_reviews: bool = False
    activate: bool = False
    max_rows: int = 0  # 0: no limit

    @classmethod
    def from_params(cls, params: dict | None) -> TrainingOptions:
        """Validate a plain dict (JSON from a form or the API); unknown keys and bad values raise."""
        params = dict(params or {})
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise TrainingOptionsError(f"Unknown training option(s): {', '.join(unknown)}. Known: {', '.join(known)}.")
        values = {}
        for name, value in params.items():
            kind = type(getattr(cls, name))
            if value is None:
                continue
            try:
                if kind is bool:
                    if isinstance(value, str):
                        value = value.strip().lower() in {"1", "true", "yes", "on"}
                    values[name] = bool(value)
                elif kind is int:
                    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                        raise ValueError
                    values[name] = int(value)
                elif kind is float:
                    values[name] = float(value)
                else:
                    values[name] = str(value).strip()
            except (TypeError, ValueError):
                raise TrainingOptionsError(
                    f"Training option {name}={value!r} is not a valid {kind.__name__}."
                ) from None
        options = cls(**values)
        options.check()
        return options

    def check(self) -> None:
        """Raise TrainingOptionsError when a value is out of range."""
        if self.architecture not in ARCHITECTURES:
            raise TrainingOptionsError(
                f"Unknown architecture {self.architecture!r}; choose one of: {', '.join(ARCHITECTURES)}."
            )
        ranges = {
            "epochs": (0, 500),
            "batch_size": (0, 4096),
            "seed": (0, 2**31 - 1),
            "patience": (1, 100),
            "max_rows": (0, 10**8),
        }
        for name, (low, high) in ranges.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise TrainingOptionsError(f"Training option {name}={value} must be between {low} and {high}.")
        if not 0.0 <= self.learning_rate <= 1.0:
            raise TrainingOptionsError(f"learning_rate={self.learning_rate} must be between 0 and 1.")
        if len(self.language) > 16:
            raise TrainingOptionsError("language must be a language code such as 'en', or empty for all.")

    def to_params(self) -> dict:
        """A plain dict, ready for a JSON field."""
        return asdict(self)
