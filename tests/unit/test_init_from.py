"""``model.init_from``: a fit starts from a FER model's weights (a zoo name, a checkpoint or a
bundle); the head's class rows follow the classes' meaning, the input convolution follows the
channels, a misfit is one sentence, and the run's record names the source and its SHA-256.

Here: the fast tests; the others are in ``tests/slow/test_init_from.py``."""

from __future__ import annotations

import pytest
import torch

from fer_lightning.data.labels import FER7
from fer_lightning.errors import FERUserError
from fer_lightning.models.init_from import (
    check_architecture,
    head_rows,
    last_linear,
    merged_state,
)
from tests.helpers.fakedata import CKPLUS_CLASSES
from tests.helpers.tiny_models import small_classifier


def test_match_keeps_the_rows_of_classes_with_the_same_meaning() -> None:
    rows = head_rows(list(FER7), list(CKPLUS_CLASSES), "match")
    named = {CKPLUS_CLASSES[new]: FER7[old] for new, old in rows.items()}
    # CK+'s anger is FER2013's angry, sadness is sad; contempt has no FER2013 row.
    assert named == {
        "anger": "angry",
        "disgust": "disgust",
        "fear": "fear",
        "happy": "happy",
        "sadness": "sad",
        "surprise": "surprise",
    }
    assert head_rows(list(FER7), list(CKPLUS_CLASSES), "new") == {}


def test_weights_are_copied_and_the_class_layer_row_by_row() -> None:
    torch.manual_seed(0)
    source, target = small_classifier(FER7), small_classifier(CKPLUS_CLASSES)
    layer = last_linear(target.head)
    rows = head_rows(list(FER7), list(CKPLUS_CLASSES), "match")
    before = target.state_dict()
    state = merged_state(before, source.state_dict(), layer, rows, "src")
    for key, value in source.state_dict().items():
        if key.startswith(f"head.{layer}.") or key == "loss_weight":
            continue
        assert torch.equal(state[key], value), key
    weight = state[f"head.{layer}.weight"]
    for new, old in rows.items():
        assert torch.equal(weight[new], source.state_dict()[f"head.{layer}.weight"][old])
    contempt = CKPLUS_CLASSES.index("contempt")
    assert torch.equal(weight[contempt], before[f"head.{layer}.weight"][contempt])


def test_gray_weights_go_to_rgb_as_timm_adapts_in_chans() -> None:
    source, target = small_classifier(FER7, in_chans=1), small_classifier(FER7, in_chans=3)
    state = merged_state(target.state_dict(), source.state_dict(), "2", {}, "src")
    key = next(k for k, v in source.state_dict().items() if v.ndim == 4)
    assert state[key].shape[1] == 3
    assert torch.allclose(state[key], source.state_dict()[key].repeat(1, 3, 1, 1) / 3)
    back = merged_state(source.state_dict(), state, "2", {}, "src")  # RGB to gray: summed
    assert torch.allclose(back[key], source.state_dict()[key], atol=1e-6)


def test_a_state_that_does_not_fit_names_its_first_misfit_key() -> None:
    source, target = small_classifier(FER7), small_classifier(FER7, widths=[8, 24])
    with pytest.raises(FERUserError, match=r"'backbone\.[\w.]+' is .* first tensor"):
        merged_state(target.state_dict(), source.state_dict(), "2", {}, "src")
    deeper = small_classifier(FER7, widths=[8, 16, 16])
    with pytest.raises(FERUserError, match=r"src has no 'backbone\.[\w.]+'.*first missing key"):
        merged_state(deeper.state_dict(), source.state_dict(), "2", {}, "src")
    with pytest.raises(FERUserError, match="src has 'backbone.*first unexpected key"):
        merged_state(source.state_dict(), deeper.state_dict(), "2", {}, "src")
    with pytest.raises(FERUserError, match="is a baseline_cnn with a mlp head.*model.backbone"):
        check_architecture({"backbone": "baseline_cnn", "head": "mlp"}, {"backbone": "x"}, "src")
