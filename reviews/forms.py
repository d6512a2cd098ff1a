"""The review form, and the one-time token that makes a double click store one review."""

from __future__ import annotations

import hashlib
import secrets

from django import forms
from django.conf import settings
from django.core import signing

_SIGNING_SALT = "starling.reviews.form-token"
_TOKEN_MAX_AGE = 24 * 3600  # a form left open for a day still submits


def form_token_new() -> str:
    """A fresh signed one-time token for one rendering of the review form."""
    return signing.dumps(secrets.token_urlsafe(16), salt=_SIGNING_SALT)


def form_token_key(token: str) -> str:
    """The submission key a token stands for: the database keeps one review per key (a double click
    stores one review), whether or not the cache is up and whichever web process answers."""
    return hashlib.sha256(token.encode()).hexdigest()


class ReviewForm(forms.Form):
    """What a visitor submits: the brand, the text and the stars they chose (the score is the server's)."""

    brand = forms.SlugField(widget=forms.HiddenInput, max_length=255)
    form_token = forms.CharField(widget=forms.HiddenInput, max_length=200)
    rating = forms.TypedChoiceField(
        label="Your rating",
        choices=[(str(n), f"{n} star{'s' if n > 1 else ''}") for n in range(1, 6)],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose a rating from 1 to 5 stars.",
            "invalid_choice": "Choose a rating from 1 to 5 stars.",
        },
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        low, high = settings.REVIEW_MIN_CHARS, settings.REVIEW_MAX_CHARS
        # Lengths come from settings (REVIEW_MIN_CHARS / REVIEW_MAX_CHARS); the browser enforces them too.
        self.fields["text"] = forms.CharField(
            label="Your review",
            min_length=low,
            max_length=high,
            widget=forms.Textarea(attrs={"rows": 6, "autocomplete": "off"}),
            error_messages={
                "required": f"Write your review: at least {low} characters.",
                "min_length": f"Write at least {low} characters (this is %(show_value)d).",
                "max_length": f"Keep it to {high} characters (this is %(show_value)d).",
            },
        )
        self.order_fields(["brand", "form_token", "text", "rating"])

    def clean_form_token(self) -> str:
        """The token must be one this site signed recently."""
        token = self.cleaned_data["form_token"]
        try:
            signing.loads(token, salt=_SIGNING_SALT, max_age=_TOKEN_MAX_AGE)
        except signing.BadSignature:
            raise forms.ValidationError("This form has expired: reload the page and submit again.") from None
        return token
