"""The review form, and the one-time token, tied to its brand, that makes a double click store one review."""

from __future__ import annotations

import hashlib
import secrets

from django import forms
from django.conf import settings
from django.core import signing

from brands.models import Company
from reviews.models import UserReview

_SIGNING_SALT = "starling.reviews.form-token"
_TOKEN_MAX_AGE = 24 * 3600  # a form left open for a day still submits
RATING_CHOICES = [(str(n), f"{n} star{'s' if n > 1 else ''}") for n in range(1, 6)]
RATING_REQUIRED = "Choose your rating: click a star from 1 to 5, or use the suggestion."
_TOO_LONG = {"max_length": "Keep it to %(limit_value)d characters (this is %(show_value)d)."}


def form_token_new(company: Company) -> str:
    """A fresh signed one-time token for one rendering of the review form of this brand."""
    return signing.dumps({"brand": company.pk, "nonce": secrets.token_urlsafe(16)}, salt=_SIGNING_SALT)


def form_token_brand(token: str) -> int | None:
    """The id of the brand a token was issued for; None when this site did not sign it recently."""
    try:
        payload = signing.loads(token, salt=_SIGNING_SALT, max_age=_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    brand = payload.get("brand") if isinstance(payload, dict) else None
    return brand if isinstance(brand, int) else None


def form_token_key(token: str) -> str:
    """The submission key a token stands for: the database keeps one review per key (a double click
    stores one review), whether or not the cache is up and whichever web process answers."""
    return hashlib.sha256(token.encode()).hexdigest()


def _max_length(field: str) -> int:
    return UserReview._meta.get_field(field).max_length


class ReviewForm(forms.Form):
    """What a visitor submits: the stars they gave (and how), the text, and optional name, title and date.

    The score and the suggestion are the server's. `use_suggestion` is the "Use suggestion" button: a
    submit button carrying the suggested stars, so accepting the suggestion works without JavaScript too.
    """

    brand = forms.SlugField(widget=forms.HiddenInput, max_length=255)
    form_token = forms.CharField(widget=forms.HiddenInput, max_length=300)
    rating = forms.TypedChoiceField(
        label="Your rating",
        choices=RATING_CHOICES,
        coerce=int,
        required=False,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": "Choose a rating from 1 to 5 stars."},
    )
    rating_source = forms.ChoiceField(choices=UserReview.RatingSource.choices, required=False, widget=forms.HiddenInput)
    use_suggestion = forms.TypedChoiceField(choices=RATING_CHOICES, coerce=int, required=False)
    title = forms.CharField(label="Title", max_length=_max_length("title"), required=False, error_messages=_TOO_LONG)
    display_name = forms.CharField(
        label="Your name", max_length=_max_length("display_name"), required=False, error_messages=_TOO_LONG
    )
    experienced_on = forms.DateField(
        label="Date of experience",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter the date as YYYY-MM-DD."},
    )

    def __init__(self, *args: object, company: Company | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.company = company
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

    def clean_form_token(self) -> str:
        """The token must be one this site signed recently, for the brand being reviewed."""
        token = self.cleaned_data["form_token"]
        brand = form_token_brand(token)
        if brand is None:
            raise forms.ValidationError("This form has expired: reload the page and submit again.")
        if self.company is None or brand != self.company.pk:
            raise forms.ValidationError("This form was opened for another brand: reload the page and submit again.")
        return token

    def clean(self) -> dict:
        """The stars the visitor gave: "Use suggestion" (accepted) or a star they clicked (picked)."""
        data = super().clean()
        if data.get("use_suggestion"):
            data["rating"] = data["use_suggestion"]
            data["rating_source"] = UserReview.RatingSource.ACCEPTED
        elif data.get("rating"):
            data["rating_source"] = data.get("rating_source") or UserReview.RatingSource.PICKED
        elif "rating" not in self.errors:
            self.add_error("rating", RATING_REQUIRED)
        return data

    def accepted_suggestion(self) -> bool:
        """Whether the stars sent were the suggestion, accepted (the page must not show them as the visitor's pick)."""
        source = self.data.get("rating_source")
        return bool(self.data.get("use_suggestion")) or source == UserReview.RatingSource.ACCEPTED
