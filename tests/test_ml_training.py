"""Training: a tiny model in seconds, deterministic, refusing too little data, checkpoints that load back."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from django.core.management import CommandError, call_command

from ml.checkpoint import checkpoint_load, checkpoint_save
from ml.config import TrainingOptions, TrainingOptionsError
from ml.data import dataset_build, dataset_from_rows
from ml.encoding import CharEncoding, NgramEncoding
from ml.model import CharCNN, CharCNNConfig, FastText, FastTextConfig
from ml.models import ModelVersion, TrainingRun
from ml.train import train_model
from reviews.models import ScrapedReview
from tests.factories import labelled_reviews_create, tiny_rows

TINY = {"epochs": 3, "patience": 3}


@pytest.mark.django_db(transaction=True)  # the command's job wrapper closes connections like a worker
def test_train_command_records_an_active_version_with_metrics():
    labelled_reviews_create(30)
    call_command("train", "--epochs", "3", "--activate", verbosity=0)
    version = ModelVersion.objects.get()
    assert version.is_active and version.architecture == "fasttext"
    assert set(version.metrics) >= {"accuracy", "macro_f1", "test", "validation"}
    assert version.metrics["test"]["confusion"] and version.metrics["macro_f1"] > 0.5
    assert version.dataset["sizes"] == {"train": 72, "validation": 9, "test": 9}
    assert len(version.dataset["row_ids_sha256"]) == 64
    run = TrainingRun.objects.get()
    assert run.status == "succeeded" and run.model_version == version and len(run.history) >= 1
    assert {"epoch", "train_loss", "val_macro_f1"} <= set(run.history[0])


@pytest.mark.django_db(transaction=True)
def test_too_little_data_is_refused_with_what_is_missing():
    labelled_reviews_create(12)
    ScrapedReview.objects.filter(label="average").exclude(source_id__in=["3-0-en", "3-1-en"]).delete()
    with pytest.raises(CommandError, match=r"average has 2 .*at least 10"):
        call_command("train", "--epochs", "1", verbosity=0)
    assert not ModelVersion.objects.exists()
    assert TrainingRun.objects.get().status == "failed"


@pytest.mark.django_db
def test_dataset_skips_excluded_rows_other_languages_and_duplicate_texts():
    labelled_reviews_create(12)
    labelled_reviews_create(12, language="de")  # same texts again, in German
    ScrapedReview.objects.filter(source_id="1-0-en").update(excluded=True)
    dataset = dataset_build(language="en")
    assert dataset.description["rows"] == 35
    everything = dataset_build(language="")
    assert everything.description["rows"] == 36 and everything.description["duplicates_dropped"] == 35


def test_same_seed_same_model_and_metrics(tmp_path):
    splits = dataset_from_rows(tiny_rows(), seed=7).splits
    first = train_model(options=TrainingOptions(seed=5, **TINY), splits=splits, checkpoint_path=None)
    second = train_model(options=TrainingOptions(seed=5, **TINY), splits=splits, checkpoint_path=None)
    assert first.metrics == second.metrics
    assert [h["train_loss"] for h in first.history] == [h["train_loss"] for h in second.history]
    for a, b in zip(first.model.network.parameters(), second.model.network.parameters(), strict=True):
        assert torch.equal(a, b)


def test_checkpoint_round_trip_gives_the_same_probabilities(tmp_path):
    splits = dataset_from_rows(tiny_rows(), seed=7).splits
    result = train_model(options=TrainingOptions(**TINY), splits=splits, checkpoint_path=tmp_path / "m.pt", name="m")
    loaded = checkpoint_load(tmp_path / "m.pt")
    texts = ["Excellent service, fast delivery", "Awful and rude", ""]
    assert np.allclose(loaded.probabilities(texts), result.model.probabilities(texts), atol=1e-6)
    assert loaded.meta["metrics"] == result.metrics and loaded.meta["name"] == "m"
    assert loaded.meta["hyperparameters"]["encoding"]["kind"] == "ngrams"


def test_charcnn_shortcut_matches_the_full_network(tmp_path):
    torch.manual_seed(0)
    network = CharCNN(CharCNNConfig()).eval()
    encoding = CharEncoding()
    texts = ["Great!", "x" * 300, "Slow delivery, rude staff. " * 10, ""]  # a padded tail: the shortcut runs
    indices, lengths = encoding.collate([encoding.encode(text) for text in texts])
    with torch.no_grad():
        fast = network(indices, lengths)
        one_hot = torch.nn.functional.embedding(indices, network.one_hot).transpose(1, 2)
        full = network.classifier(network.features(one_hot).flatten(1))
    assert torch.allclose(fast, full, atol=1e-5)
    assert indices.shape == (4, 1014)
    # A checkpoint of the tutorial's network loads back whole.
    from ml.checkpoint import SentimentModel

    checkpoint_save(tmp_path / "c.pt", SentimentModel("charcnn", network, encoding))
    assert checkpoint_load(tmp_path / "c.pt").network.receptive_field == 123


@pytest.mark.parametrize("longest", [0, 26, 116, 300, 1007, 1013, 1100])
def test_charcnn_lookup_first_layer_and_blank_column_match_the_convolutions(longest):
    """The training path's shortcuts give the full network's outputs and the same gradients.

    Each layer computes only the positions that see text and reads its blank column past them, so
    lengths around the pooling steps and near the right edge (where the full network's widths cut
    windows off) are checked; 0 is a batch of empty texts; with 1100 a text fills all 1,014
    positions and nothing is shared.
    """
    torch.manual_seed(1)
    network = CharCNN(CharCNNConfig()).eval()
    encoding = CharEncoding()
    texts = ["Great!", "Slow delivery, rude staff. " * 8, "x" * longest, "ok"] if longest else [""] * 4
    indices, lengths = encoding.collate([encoding.encode(text) for text in texts])
    one_hot = torch.nn.functional.embedding(indices, network.one_hot).transpose(1, 2)
    with torch.no_grad():
        assert torch.allclose(network.first_layer(indices), network.convs[0](one_hot), atol=1e-5)
        blank = network.features(torch.zeros(1, network.one_hot.shape[1], network.receptive_field))
        assert torch.allclose(network.blank_column(), blank, atol=1e-6)
    target = torch.tensor([2, 0, 1, 2])
    fast = network(indices, lengths)
    torch.nn.functional.cross_entropy(fast, target).backward()
    fast_grads = [p.grad.clone() for p in network.parameters()]
    network.zero_grad()
    full = network.classifier(network.features(one_hot).flatten(1))
    torch.nn.functional.cross_entropy(full, target).backward()
    assert torch.allclose(fast, full, atol=1e-5)
    for mine, theirs in zip(fast_grads, (p.grad for p in network.parameters()), strict=True):
        assert torch.allclose(mine, theirs, rtol=1e-4, atol=1e-6)


def test_encodings_follow_the_seed_alphabet_and_hash_stably():
    encoding = CharEncoding()
    assert len(encoding.alphabet) == 69
    assert encoding.encode("ab€").tolist() == [0, 2, 1]  # reversed, lower-cased, unknown → 0
    ngrams = NgramEncoding()
    assert np.array_equal(ngrams.ngram_ids("Fast delivery!"), ngrams.ngram_ids("fast  DELIVERY!"))
    assert ngrams.ngram_ids("").tolist() == [] and len(ngrams.encode("  ").ids) == 0
    # Saved models depend on these exact ids: a change to the hashing would silently break them.
    ids = ngrams.ngram_ids("Fast delivery!").tolist()
    assert len(ids) == 59 and ids[:4] == [215612, 209286, 32015, 256306] and ids[-2:] == [173196, 95651]
    encoded = ngrams.encode("no no no yes")
    assert np.isclose(encoded.tf.max(), 1 + np.log(3)) and np.all(np.diff(encoded.ids) > 0)


def test_lexicon_scores_are_vaders_own():
    """Our VADER reads a few neighbours per check instead of the whole text (linear, not quadratic): same scores."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from ml.lexicon import lexicon_scores

    tricky = [
        "", "no", "not good", "no good", "good no", "never so good", "never this bad", "without doubt great",
        "kind of good", "sort of bad", "at least good", "very least good", "least good", "the bomb", "yeah right",
        "cut the mustard", "no or nor bad", "GOOD but BAD", "It is NOT bad at all!!!", "😀 great", "bad 😡 service",
        "The service was not great, but the staff were really kind of nice",
    ]  # fmt: skip
    rng = random.Random(5)
    words = [word for text in tricky for word in text.split()]
    texts = tricky + [" ".join(rng.choice(words) for _ in range(rng.randint(1, 60))) for _ in range(300)]
    texts.append(". ".join(tricky) * 20)  # long: where the package's own checks grow quadratically
    reference = SentimentIntensityAnalyzer()
    assert [lexicon_scores(text) for text in texts] == [reference.polarity_scores(text) for text in texts]


@pytest.mark.parametrize("lexicon", [True, False])
def test_fasttext_scoring_through_the_folded_tables_matches_the_network(lexicon):
    """Eval-mode scoring (two lookups in per-bucket tables) gives the logits of the layers it folds.

    With gradients on, eval mode runs the layers themselves (dropout off): the reference. After the
    weights change (an optimizer step, `load_state_dict`), the tables follow.
    """
    torch.manual_seed(3)
    encoding = NgramEncoding(lexicon=lexicon)
    network = FastText(FastTextConfig(lexicon_features=4 if lexicon else 0)).eval()
    torch.nn.init.normal_(network.out.weight)
    network.fit_idf([encoding.encode(text).ids for text in ("good service", "bad service", "ok")])
    texts = ["Excellent service, fast delivery", "Awful and rude, never again", "", "ok ok ok"]
    batch = encoding.collate([encoding.encode(text) for text in texts])
    for _ in range(2):
        with torch.no_grad():
            folded = network(*batch)
        reference = network(*batch).detach()
        assert torch.allclose(folded, reference, atol=1e-5)
        with torch.no_grad():
            network.embedding.weight.mul_(-2.0)  # the weights change: the next round checks the tables follow
    assert not torch.allclose(folded, network(*batch).detach(), atol=1e-3)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"architecture": "bert"}, "Unknown architecture"),
        ({"epochs": -1}, "epochs=-1 must be between"),
        ({"epochs": "many"}, "not a valid int"),
        ({"colour": "red"}, "Unknown training option"),
    ],
)
def test_bad_training_options_are_refused(params, message):
    with pytest.raises(TrainingOptionsError, match=message):
        TrainingOptions.from_params(params)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_imported_sample_trains_a_model_that_beats_chance(shared_data):
    call_command("import_reviews", str(shared_data / "trustpilot_reviews_sample.csv"), verbosity=0)
    call_command("train", "--epochs", "1", "--max-rows", "2000", "--activate", verbosity=0)
    version = ModelVersion.objects.get(is_active=True)
    assert version.dataset["rows"] > 1950 and version.dataset["sizes"]["test"] > 190
    assert version.metrics["macro_f1"] > 0.6  # three balanced classes: chance is 0.33


def test_every_architecture_name_rebuilds_its_own_network():
    from ml.architectures import ARCHITECTURE_SPECS
    from ml.model import NETWORKS

    assert set(ARCHITECTURE_SPECS) == set(NETWORKS)
    for name, spec in ARCHITECTURE_SPECS.items():
        assert isinstance(spec.config, NETWORKS[name][1])
