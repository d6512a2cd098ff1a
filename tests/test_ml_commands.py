"""`manage.py evaluate` and `manage.py predict` as a user runs them."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from ml.services import model_version_activate
from tests.factories import model_version_create

pytestmark = pytest.mark.usefixtures("served_model_reset")


def write_csv(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


GOOD_CSV = (
    "text,label\n"
    '"Excellent service, fast delivery, love it",good\n'
    '"Awful, rude staff, never again",bad\n'
    '"It was okay, average, could be better",average\n'
    '"Great, friendly staff, highly recommend",5\n'
    "   ,bad\n"
)


@pytest.mark.django_db
def test_evaluate_json_scores_a_labelled_csv_with_the_lexicon(tmp_path, capsys):
    call_command("evaluate", "--data", str(write_csv(tmp_path / "small.csv", GOOD_CSV)), "--json")
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "lexicon-vader" and result["n"] == 4
    assert {"accuracy", "macro_f1", "per_class", "confusion"} <= set(result)
    assert set(result["per_class"]) == {"bad", "average", "good"}
    assert result["per_class"]["good"]["support"] == 2
    assert sum(map(sum, result["confusion"])) == 4
    assert 0 <= result["macro_f1"] <= 1


@pytest.mark.django_db
def test_evaluate_uses_the_active_or_named_model(tmp_path, capsys, trained_checkpoint):
    data = write_csv(tmp_path / "small.csv", GOOD_CSV)
    model_version_activate(version=model_version_create(name="tiny-1", checkpoint=trained_checkpoint))
    call_command("evaluate", "--data", str(data), "--json")
    assert json.loads(capsys.readouterr().out)["model"] == "tiny-1"
    call_command("evaluate", "--data", str(data), "--model", "lexicon-vader")
    table = capsys.readouterr().out
    assert "model lexicon-vader: n=4" in table and "macro-F1" in table
    with pytest.raises(CommandError, match="No model named 'nope'"):
        call_command("evaluate", "--data", str(data), "--model", "nope")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("review,stars\nnice,5\n", "needs columns text and label"),
        ("text,label\nnice,great\n", "line 2: label 'great' is not one of"),
        ("text,label\n", "no labelled rows"),
        (b"text,label\n\xff\xfe,bad\n", "not UTF-8"),
    ],
)
def test_evaluate_explains_a_bad_csv(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(CommandError, match=message):
        call_command("evaluate", "--data", str(path), "--json")


@pytest.mark.django_db
def test_evaluate_explains_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("evaluate", "--data", str(tmp_path / "absent.csv"))


@pytest.mark.django_db
def test_predict_prints_the_prediction_object(capsys):
    call_command("predict", "Fast delivery and friendly staff", "--json")
    prediction = json.loads(capsys.readouterr().out)
    assert set(prediction) == {"score", "label", "probabilities", "suggested_rating", "model"}
    call_command("predict", "   ")
    assert "Nothing to score" in capsys.readouterr().out
